namespace CloudMount.Core.Storage.Decorators;

/// <summary>
/// Checks reads that cover a whole object against the hash the service states for it, as CloudFiles validates md5:
/// the CRC32C where the store gives one (GCS <c>x-goog-hash</c>), else the MD5 (GCS and Azure MD5 fields, a plain-MD5
/// ETag of S3 and Swift). The body is hashed as it streams and fails at its end with an <see cref="IOException"/> over a
/// (not transient) <see cref="ChecksumMismatchException"/> naming the key and both values. Placed outside the retries,
/// so a body that broke off and was resumed is checked whole.
/// </summary>
public sealed class ReadVerifyingObjectStore(IObjectStore inner) : DelegatingObjectStore(inner)
{
    /// <inheritdoc/>
    public override async Task<ObjectReadResult> ReadAsync(string key, ByteRange range, string? ifMatch, CancellationToken cancellationToken)
    {
        var r = await Inner.ReadAsync(key, range, ifMatch, cancellationToken).ConfigureAwait(false);
        if (r.Range.Offset != 0 || r.Range.Length != r.Info.Size || r.Info.Size <= 0) return r;
        if (r.Info.Crc32c is { } crc)
        {
            return r with { Content = new VerifyingStream(r.Content, null, crc, $"{Name}/{key}") };
        }
        if (UploadVerifyingObjectStore.StatedMd5(r.Info, Capabilities) is { } md5)
        {
            return r with { Content = new VerifyingStream(r.Content, md5, null, $"{Name}/{key}") };
        }
        return r;
    }

    /// <summary>Hashes a whole-object body as it streams; at its end a hash other than the stated one fails the read.</summary>
    private sealed class VerifyingStream(Stream inner, string? md5, uint? crc32c, string what) : ReadOnlyStreamBase
    {
        private readonly ContentHasher _hasher = new(md5 is not null);
        private bool _done;

        protected override async ValueTask<int> ReadCoreAsync(Memory<byte> buffer, CancellationToken cancellationToken)
        {
            int n = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            if (n > 0)
            {
                _hasher.Append(buffer.Span[..n]);
            }
            else if (!_done && buffer.Length > 0)
            {
                _done = true;
                string? problem = null;
                if (crc32c is { } expected && _hasher.Crc32c != expected)
                {
                    problem = $"reading {what}: the bytes have CRC32C {_hasher.Crc32c:x8}, the service states {expected:x8}";
                }
                else if (md5 is not null && _hasher.Md5Hex() is var actual && actual != md5)
                {
                    problem = $"reading {what}: the bytes have MD5 {actual}, the service states {md5}";
                }
                if (problem is not null)
                {
                    throw new IOException(problem, new ChecksumMismatchException(problem, transient: false));
                }
            }
            return n;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
                _hasher.Dispose();
            }
            base.Dispose(disposing);
        }

        public override async ValueTask DisposeAsync()
        {
            await inner.DisposeAsync().ConfigureAwait(false);
            _hasher.Dispose();
            await base.DisposeAsync().ConfigureAwait(false);
        }
    }
}
