using System.Collections.Concurrent;

namespace CloudMount.Core.Storage.Decorators;

/// <summary>
/// Checks every upload against what the service says it stored, as rclone and CloudFiles do: a single-request write
/// carries Content-MD5 (the service rejects a corrupted body), and afterwards the size, the MD5 (a plain-MD5 ETag,
/// GCS <c>md5Hash</c>, Azure <c>Content-MD5</c>) and the CRC32C (GCS) the answer reports are compared with what was
/// sent; a multipart, SLO, compose or block-list upload is checked by its size and, where the service states one, the
/// CRC32C of the whole (combined from the parts' CRCs); a metadata update must leave a plain-MD5 ETag as it was. A
/// mismatch is a <see cref="ChecksumMismatchException"/> naming the key and both values: transient, so the retry
/// decorator above sends the upload again, and an upload that keeps mismatching fails (close() gives EIO and the staged
/// data stays for recovery). Placed inside the retries, just above request counting.
/// </summary>
public sealed class UploadVerifyingObjectStore(IObjectStore inner) : DelegatingObjectStore(inner)
{
    /// <summary>Returns the MD5 an ETag states, or <c>null</c> when the ETag is not a plain MD5 (32 hex digits, no <c>-N</c>).</summary>
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

    /// <summary>The MD5 (lower-case hex) the service states for an object: its own MD5 field, else a plain-MD5 ETag where the store's ETags are MD5s.</summary>
    public static string? StatedMd5(ObjectInfo info, StoreCapabilities capabilities) =>
        info.Md5 ?? (capabilities.Md5ETags && info.ETagIsContentMd5 != false && Md5FromETag(info.ETag) is { } m ? Convert.ToHexStringLower(m) : null);

    /// <summary>
    /// Compares what the service reports with what was sent.
    /// </summary>
    /// <exception cref="ChecksumMismatchException">The size, MD5 or CRC32C differs (transient: sending again may pass).</exception>
    public static void Check(string store, string what, string key, long sentBytes, string? sentMd5, uint? sentCrc32c, ObjectInfo got, StoreCapabilities capabilities)
    {
        string where = $"{what} of {key} to {store}";
        if (got.Size != sentBytes)
        {
            throw new ChecksumMismatchException($"{where}: the service stored {got.Size} bytes, we sent {sentBytes}");
        }
        if (sentMd5 is not null && StatedMd5(got, capabilities) is { } md5 && md5 != sentMd5)
        {
            throw new ChecksumMismatchException($"{where}: the service stored MD5 {md5}, we sent {sentMd5}");
        }
        if (sentCrc32c is { } crc && got.Crc32c is { } stored && stored != crc)
        {
            throw new ChecksumMismatchException($"{where}: the service stored CRC32C {stored:x8}, we sent {crc:x8}");
        }
    }

    /// <inheritdoc/>
    public override async Task<ObjectInfo> WriteAsync(string key, ObjectContent content, ObjectWriteOptions options, CancellationToken cancellationToken)
    {
        // MD5 for Content-MD5 where one request carries the body; a CRC32C always (it costs a tenth of MD5).
        bool md5 = content.Length <= Capabilities.MaxSinglePutBytes || options.ContentMd5 is not null;
        var (sentMd5, sentCrc) = await ContentHasher.HashAsync(content, md5 && options.ContentMd5 is null, cancellationToken).ConfigureAwait(false);
        if (options.ContentMd5 is { } given) sentMd5 = Convert.ToHexStringLower(given);
        else if (sentMd5 is not null) options = options with { ContentMd5 = Convert.FromHexString(sentMd5) };
        var info = await Inner.WriteAsync(key, content, options, cancellationToken).ConfigureAwait(false);
        Check(Name, "upload", key, content.Length, sentMd5, sentCrc, info, Capabilities);
        return info;
    }

    /// <inheritdoc/>
    /// <remarks>Where the ETag is the MD5 of the bytes (S3 single-part objects, Swift), a metadata update must not change it.</remarks>
    public override async Task<ObjectInfo> UpdateMetadataAsync(string key, ObjectWriteOptions options, string? ifMatch, CancellationToken cancellationToken)
    {
        var info = await Inner.UpdateMetadataAsync(key, options, ifMatch, cancellationToken).ConfigureAwait(false);
        if (Capabilities.Md5ETags && Md5FromETag(ifMatch) is { } before && info.ETagIsContentMd5 != false
            && Md5FromETag(info.ETag) is { } after && !before.AsSpan().SequenceEqual(after))
        {
            throw new ChecksumMismatchException($"metadata update of {key} on {Name}: the object's MD5 became {Convert.ToHexStringLower(after)}, it was {Convert.ToHexStringLower(before)}");
        }
        return info;
    }

    /// <inheritdoc/>
    public override IMultipartUploads? Multipart => Inner.Multipart is { } m ? new VerifiedUploads(m, this) : null;

    private sealed class VerifiedUploads(IMultipartUploads inner, UploadVerifyingObjectStore owner) : IMultipartUploads
    {
        public long MinPartBytes => inner.MinPartBytes;

        public int MaxParts => inner.MaxParts;

        public async Task<IMultipartUpload> StartAsync(string key, ObjectWriteOptions options, CancellationToken cancellationToken) =>
            new VerifiedUpload(await inner.StartAsync(key, options, cancellationToken).ConfigureAwait(false), owner);

        public Task AbortAsync(string key, string uploadId, CancellationToken cancellationToken) => inner.AbortAsync(key, uploadId, cancellationToken);

        public Task<IReadOnlyList<(string Id, DateTimeOffset Started)>> ListUnfinishedAsync(string key, CancellationToken cancellationToken) =>
            inner.ListUnfinishedAsync(key, cancellationToken);
    }

    /// <summary>Keeps each part's length and CRC32C (the last upload of each number wins) to check the completed object.</summary>
    private sealed class VerifiedUpload(IMultipartUpload inner, UploadVerifyingObjectStore owner) : IMultipartUpload
    {
        private readonly ConcurrentDictionary<int, (long Length, uint Crc)> _parts = new();

        public string Key => inner.Key;

        public string Id => inner.Id;

        public async Task UploadPartAsync(int partNumber, ObjectContent content, CancellationToken cancellationToken)
        {
            var (_, crc) = await ContentHasher.HashAsync(content, md5: false, cancellationToken).ConfigureAwait(false);
            await inner.UploadPartAsync(partNumber, content, cancellationToken).ConfigureAwait(false);
            _parts[partNumber] = (content.Length, crc);
        }

        public async Task<ObjectInfo> CompleteAsync(int parts, long totalBytes, CancellationToken cancellationToken)
        {
            var info = await inner.CompleteAsync(parts, totalBytes, cancellationToken).ConfigureAwait(false);
            uint? crc = null;
            if (info.Crc32c is not null && Enumerable.Range(1, parts).All(_parts.ContainsKey))
            {
                uint c = _parts[1].Crc;
                for (int p = 2; p <= parts; p++) c = Crc32C.Combine(c, _parts[p].Crc, _parts[p].Length);
                crc = c;
            }
            Check(owner.Name, "multipart upload", Key, totalBytes, null, crc, info, owner.Capabilities);
            return info;
        }

        public Task AbortAsync(CancellationToken cancellationToken) => inner.AbortAsync(cancellationToken);
    }
}
