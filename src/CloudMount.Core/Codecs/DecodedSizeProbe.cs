using System.Globalization;
using CloudMount.Core.Storage;

namespace CloudMount.Core.Codecs;

/// <summary>
/// Finds an encoded object's decoded size without decoding it: the <see cref="ContentCodec.DecodedLengthMetadata"/>
/// metadata CloudMount writes on upload, else the gzip trailer's ISIZE (one 4-byte range GET), else the zstd
/// frame header's content size (one 18-byte range GET). Brotli has no size field: <c>null</c>.
/// </summary>
public static class DecodedSizeProbe
{
    /// <summary>The size an object's metadata states, or <c>null</c>.</summary>
    public static long? FromMetadata(ObjectInfo stored) =>
        stored.Metadata?.TryGetValue(ContentCodec.DecodedLengthMetadata, out var text) == true
        && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long size) ? size : null;

    /// <summary>Probes the decoded size of <paramref name="stored"/> (a HEAD or GET answer carrying its Content-Encoding).</summary>
    /// <param name="raw">The store holding the encoded bytes.</param>
    /// <param name="stored">The object as stored.</param>
    /// <param name="readZstdHeader">Read the zstd frame header with a range GET (false when a full read will see it anyway).</param>
    /// <param name="cancellationToken">Cancels the range GET.</param>
    /// <returns>The decoded size in bytes, or <c>null</c> when the format does not say. A gzip ISIZE is the size
    /// modulo 4 GiB of the last member only; decoding verifies it.</returns>
    /// <exception cref="ObjectStoreException">The range GET failed.</exception>
    public static async Task<long?> ProbeAsync(IObjectStore raw, ObjectInfo stored, bool readZstdHeader, CancellationToken cancellationToken)
    {
        if (FromMetadata(stored) is { } known) return known;
        switch (ContentCodec.Parse(stored.ContentEncoding))
        {
            case Codec.Gzip when stored.Size >= 18:
                {
                    var tail = await ReadRangeAsync(raw, stored, new ByteRange(stored.Size - 4, 4), cancellationToken).ConfigureAwait(false);
                    return tail.Length == 4 ? ContentCodec.GzipIsize(tail) : null;
                }
            case Codec.Zstd when readZstdHeader && stored.Size >= 6:
                {
                    var head = await ReadRangeAsync(raw, stored, new ByteRange(0, Math.Min(18, stored.Size)), cancellationToken).ConfigureAwait(false);
                    return ContentCodec.TryZstdContentSize(head, out long size) ? size : null;
                }
            default:
                return null;
        }
    }

    private static async Task<byte[]> ReadRangeAsync(IObjectStore raw, ObjectInfo stored, ByteRange range, CancellationToken ct)
    {
        await using var r = await raw.ReadAsync(stored.Key, range, stored.ETag, ct).ConfigureAwait(false);
        var bytes = new byte[range.Length!.Value];
        int got = 0;
        int n;
        while (got < bytes.Length && (n = await r.Content.ReadAsync(bytes.AsMemory(got), ct).ConfigureAwait(false)) > 0) got += n;
        return got == bytes.Length ? bytes : bytes[..got];
    }
}
