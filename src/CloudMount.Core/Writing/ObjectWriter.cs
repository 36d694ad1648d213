using CloudMount.Core.Storage;

namespace CloudMount.Core.Writing;

/// <summary>How whole objects are written: one PUT when small, otherwise a multipart upload with parallel parts.</summary>
/// <param name="PartBytes">Part size in bytes (grown so no upload needs more parts than the store allows).</param>
/// <param name="Concurrency">Parts sent at once.</param>
/// <param name="ThresholdBytes">Objects larger than this go up in parts, where the store has multipart uploads.</param>
public sealed record UploadOptions(long PartBytes = 16 * Bytes.MiB, int Concurrency = 4, long ThresholdBytes = 32 * Bytes.MiB);

/// <summary>
/// Writes a whole object through the (decorated) store: multipart uploads go through
/// <see cref="IObjectStore.Multipart"/>, so each part is retried and counted on its own.
/// </summary>
public static class ObjectWriter
{
    /// <summary>Writes <paramref name="content"/> to <paramref name="key"/>.</summary>
    /// <exception cref="ObjectStoreException">The write failed after retries; a multipart upload is aborted.</exception>
    public static async Task<ObjectInfo> WriteAsync(IObjectStore store, string key, ObjectContent content, ObjectWriteOptions options, UploadOptions upload, CancellationToken cancellationToken)
    {
        // Content still to be encoded (by a codec decorator) cannot be split into parts before it is encoded.
        bool toEncode = options.EncodeAs is { } codec && codec != Codecs.Codec.Identity;
        if (store.Multipart is not { } multipart || content.Length <= upload.ThresholdBytes || toEncode)
        {
            return await store.WriteAsync(key, content, options, cancellationToken).ConfigureAwait(false);
        }
        long partBytes = Math.Max(Math.Max(upload.PartBytes, multipart.MinPartBytes), (content.Length + multipart.MaxParts - 1) / multipart.MaxParts);
        int parts = (int)((content.Length + partBytes - 1) / partBytes);
        var session = await multipart.StartAsync(key, options, cancellationToken).ConfigureAwait(false);
        try
        {
            await Parallel.ForAsync(0, parts, new ParallelOptions { MaxDegreeOfParallelism = upload.Concurrency, CancellationToken = cancellationToken }, async (i, ct) =>
            {
                long offset = i * partBytes;
                await session.UploadPartAsync(i + 1, content.Slice(offset, Math.Min(partBytes, content.Length - offset)), ct).ConfigureAwait(false);
            }).ConfigureAwait(false);
            return await session.CompleteAsync(parts, content.Length, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await session.AbortAsync(CancellationToken.None).ConfigureAwait(false);
            throw;
        }
    }
}
