using System.Security.Cryptography;

namespace CloudMount.Core.Storage.Decorators;

/// <summary>
/// Checks bytes against MD5 where the service gives us something to check against:
/// a single-request write carries Content-MD5 (the service rejects a corrupted body) and its returned ETag is
/// compared with the MD5; a read that covers a whole object whose ETag is a plain MD5 (32 hex digits, no
/// <c>-N</c> multipart suffix) is hashed as it streams and fails at its end if the digest differs.
/// A mismatch is a <see cref="ChecksumMismatchException"/>, which the retry decorator retries.
/// </summary>
public sealed class ChecksumObjectStore(IObjectStore inner) : DelegatingObjectStore(inner)
{
    /// <summary>Returns the MD5 an ETag states, or <c>null</c> when the ETag is not a plain MD5.</summary>
    public static byte[]? Md5FromETag(string? etag)
    {
        if (etag is null) return null;
        var s = etag.AsSpan().Trim('"');
        if (s.StartsWith("W/")) return null;
        if (s.Length != 32) return null;
        foreach (char c in s)
        {
            if (!char.IsAsciiHexDigit(c)) return null;
        }
        return Convert.FromHexString(s);
    }

    /// <inheritdoc/>
    public override async Task<ObjectReadResult> ReadAsync(string key, ByteRange range, string? ifMatch, CancellationToken cancellationToken)
    {
        var r = await Inner.ReadAsync(key, range, ifMatch, cancellationToken).ConfigureAwait(false);
        if (Capabilities.Md5ETags && r.Range.Offset == 0 && r.Range.Length == r.Info.Size && r.Info.Size > 0
            && r.Info.ETagIsContentMd5 != false && Md5FromETag(r.Info.ETag) is { } md5)
        {
            return r with { Content = new Md5VerifyingStream(r.Content, md5, key) };
        }
        return r;
    }

    /// <inheritdoc/>
    public override async Task<ObjectInfo> WriteAsync(string key, ObjectContent content, ObjectWriteOptions options, CancellationToken cancellationToken)
    {
        if (options.ContentMd5 is null && content.Length <= Capabilities.MaxSinglePutBytes)
        {
            await using var s = content.OpenRead();
            options = options with { ContentMd5 = await MD5.HashDataAsync(s, cancellationToken).ConfigureAwait(false) };
        }
        var info = await Inner.WriteAsync(key, content, options, cancellationToken).ConfigureAwait(false);
        if (Capabilities.Md5ETags && options.ContentMd5 is { } sent && Md5FromETag(info.ETag) is { } got && !got.AsSpan().SequenceEqual(sent))
        {
            throw new ChecksumMismatchException($"upload of {key}: the service stored MD5 {Convert.ToHexStringLower(got)}, we sent {Convert.ToHexStringLower(sent)}");
        }
        return info;
    }

    /// <summary>Hashes a whole-object body as it streams; at its end an MD5 other than <c>expected</c> fails the read.</summary>
    internal sealed class Md5VerifyingStream(Stream inner, byte[] expected, string key) : ReadOnlyStreamBase
    {
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
        private bool _done;

        protected override async ValueTask<int> ReadCoreAsync(Memory<byte> buffer, CancellationToken cancellationToken)
        {
            int n = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            if (n > 0)
            {
                _hash.AppendData(buffer.Span[..n]);
            }
            else if (!_done && buffer.Length > 0)
            {
                _done = true;
                byte[] actual = _hash.GetHashAndReset();
                if (!actual.AsSpan().SequenceEqual(expected))
                {
                    throw new IOException($"MD5 mismatch reading {key}", new ChecksumMismatchException($"MD5 mismatch reading {key}"));
                }
            }
            return n;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
                _hash.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
