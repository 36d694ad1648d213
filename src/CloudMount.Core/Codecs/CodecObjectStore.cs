using System.Globalization;
using CloudMount.Core.Storage;
using CloudMount.Core.Storage.Decorators;

namespace CloudMount.Core.Codecs;

/// <summary>
/// Presents encoded objects (Content-Encoding gzip, br or zstd) as their decoded bytes, the way rclone's compress
/// backend wraps another: whole-object reads stream through a verifying decoder; range reads of an encoded object
/// are served from its decoded copy (<see cref="DecodedCopies"/>); HEAD reports the decoded size when the object
/// carries it in <see cref="ContentCodec.DecodedLengthMetadata"/> (otherwise -1, unknown). Writes are encoded when
/// <see cref="CompressionOptions"/> say so (then whole-object only: no multipart). Listings pass through: they
/// carry stored sizes. The mount's Vfs uses the same parts (decoded copies, <see cref="Encoder"/>) directly, since
/// it must also tell the kernel about sizes.
/// </summary>
/// <param name="inner">The store holding encoded objects.</param>
/// <param name="copies">Decoded copies for range reads of encoded objects, or <c>null</c> to decode from the start for each.</param>
/// <param name="compression">How writes without <see cref="ObjectWriteOptions.EncodeAs"/> are encoded.</param>
/// <param name="tempDirectory">Where encoded uploads are spooled.</param>
public sealed class CodecObjectStore(IObjectStore inner, DecodedCopies? copies, CompressionOptions compression, string tempDirectory) : DelegatingObjectStore(inner)
{
    /// <inheritdoc/>
    public override IMultipartUploads? Multipart => compression.Codec == Codec.Identity ? Inner.Multipart : null;

    private static long DecodedSize(ObjectInfo stored) => DecodedSizeProbe.FromMetadata(stored) ?? -1;

    /// <inheritdoc/>
    /// <remarks>For an encoded object, <see cref="ObjectInfo.Size"/> is the decoded size, or -1 when unknown.</remarks>
    public override async Task<ObjectInfo?> HeadAsync(string key, CancellationToken cancellationToken)
    {
        var info = await Inner.HeadAsync(key, cancellationToken).ConfigureAwait(false);
        return info is not null && ContentCodec.Parse(info.ContentEncoding) != Codec.Identity ? info with { Size = DecodedSize(info) } : info;
    }

    /// <inheritdoc/>
    public override async Task<ObjectReadResult> ReadAsync(string key, ByteRange range, string? ifMatch, CancellationToken cancellationToken)
    {
        var raw = await Inner.ReadAsync(key, range, ifMatch, cancellationToken).ConfigureAwait(false);
        var codec = ContentCodec.Parse(raw.Info.ContentEncoding);
        if (codec == Codec.Identity) return raw;
        long decoded = DecodedSize(raw.Info);
        if (range.IsWholeObject)
        {
            return new ObjectReadResult(ContentCodec.OpenDecoder(codec, raw.Content), raw.Info with { Size = decoded }, new ByteRange(0, decoded >= 0 ? decoded : null));
        }
        await raw.DisposeAsync().ConfigureAwait(false);
        var stored = raw.Info;
        if (copies is null)
        {
            // No decoded copies: decode from the start and skip to the range.
            var whole = await Inner.ReadAsync(key, ByteRange.All, stored.ETag, cancellationToken).ConfigureAwait(false);
            var decodedStream = ContentCodec.OpenDecoder(codec, whole.Content);
            var skip = new byte[64 * 1024];
            for (long left = range.Offset; left > 0;)
            {
                int n = await decodedStream.ReadAsync(skip.AsMemory(0, (int)Math.Min(skip.Length, left)), cancellationToken).ConfigureAwait(false);
                if (n == 0) break;
                left -= n;
            }
            return new ObjectReadResult(range.Length is { } max ? new LimitedStream(decodedStream, max) : decodedStream, stored with { Size = decoded }, range);
        }
        var copy = copies.Acquire(stored);
        try
        {
            long? size = await copy.SizeHint.WaitAsync(cancellationToken).ConfigureAwait(false);
            long end = range.Length is { } l ? range.Offset + l : long.MaxValue;
            await copy.WaitForAsync(end, cancellationToken).ConfigureAwait(false);
            long available = copy.Completion.IsCompletedSuccessfully ? copy.Completion.Result : copy.Decoded;
            long length = Math.Max(0, Math.Min(end, available) - range.Offset);
            var bytes = new byte[length];
            copy.Read(range.Offset, bytes);
            return new ObjectReadResult(new MemoryStream(bytes, writable: false), stored with { Size = size ?? -1 }, new ByteRange(range.Offset, length));
        }
        finally
        {
            copies.Release(copy);
        }
    }

    /// <inheritdoc/>
    public override async Task<ObjectInfo> WriteAsync(string key, ObjectContent content, ObjectWriteOptions options, CancellationToken cancellationToken)
    {
        var codec = options.EncodeAs ?? compression.For(key);
        if (codec == Codec.Identity)
        {
            return await Inner.WriteAsync(key, content, options with { EncodeAs = null }, cancellationToken).ConfigureAwait(false);
        }
        var (path, encodedOptions) = await Encoder.EncodeAsync(content, codec, compression.Level, options with { EncodeAs = null }, tempDirectory, cancellationToken).ConfigureAwait(false);
        try
        {
            var info = await Inner.WriteAsync(key, ObjectContent.FromFile(path), encodedOptions, cancellationToken).ConfigureAwait(false);
            return info with { Size = content.Length };
        }
        finally
        {
            File.Delete(path);
        }
    }
}

/// <summary>Reads at most a number of bytes from a stream it owns.</summary>
internal sealed class LimitedStream(Stream inner, long limit) : ReadOnlyStreamBase
{
    private long _left = limit;

    protected override async ValueTask<int> ReadCoreAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        if (_left <= 0) return 0;
        int n = await inner.ReadAsync(buffer[..(int)Math.Min(buffer.Length, _left)], cancellationToken).ConfigureAwait(false);
        _left -= n;
        return n;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) inner.Dispose();
        base.Dispose(disposing);
    }
}
