using System.Buffers;
using System.IO.Compression;

namespace CloudMount.Core.Codecs;

/// <summary>
/// Decodes gzip, brotli or zstd and fails, rather than end quietly, when the encoded bytes are truncated, corrupt
/// or followed by garbage. The framework's GZipStream and BrotliStream return a short result for a truncated
/// input without an error (measured on .NET 10), so:
/// <list type="bullet">
/// <item>gzip: <see cref="GzipMemberDecoder"/> checks every member's trailer (CRC-32 and ISIZE), so a stream
/// of several members decodes whole and one cut anywhere fails;</item>
/// <item>brotli: <see cref="BrotliDecoder"/>, whose status must be <c>Done</c> exactly when the input ends;</item>
/// <item>zstd: ZstdSharp's <see cref="ZstdSharp.Decompressor"/> stream API, frame after frame (the zstd tool
/// writes and reads concatenated frames); the last frame must be complete when the input ends, and a frame's
/// content checksum is verified when it has one.</item>
/// </list>
/// Failures are <see cref="InvalidDataException"/>.
/// </summary>
public sealed class VerifyingDecoder : ReadOnlyStreamBase
{
    private readonly Codec _codec;
    private readonly Stream _raw;
    private readonly GzipMemberDecoder? _gzip;
    private BrotliDecoder _brotli;
    private readonly ZstdSharp.Decompressor? _zstd;
    private readonly byte[]? _input;
    private int _inputStart, _inputEnd;
    private bool _rawEnded, _frameDone, _finished;

    /// <summary>Wraps <paramref name="encoded"/> (owned) in a decoder of <paramref name="codec"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Identity, which needs no decoder.</exception>
    public VerifyingDecoder(Codec codec, Stream encoded)
    {
        _codec = codec;
        _raw = encoded;
        switch (codec)
        {
            case Codec.Gzip:
                _gzip = new GzipMemberDecoder(encoded);
                break;
            case Codec.Brotli:
                _brotli = new BrotliDecoder();
                _input = ArrayPool<byte>.Shared.Rent(64 * 1024);
                break;
            case Codec.Zstd:
                _zstd = new ZstdSharp.Decompressor();
                _input = ArrayPool<byte>.Shared.Rent(64 * 1024);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(codec), "identity needs no decoder");
        }
    }

    /// <inheritdoc/>
    protected override async ValueTask<int> ReadCoreAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        if (_finished || buffer.Length == 0) return 0;
        int n = _gzip is not null
            ? await _gzip.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)
            : await ReadSpanDecoderAsync(buffer, cancellationToken).ConfigureAwait(false);
        if (n == 0) _finished = true;
        return n;
    }

    private async ValueTask<int> ReadSpanDecoderAsync(Memory<byte> buffer, CancellationToken ct)
    {
        while (true)
        {
            if (_inputStart == _inputEnd && !_rawEnded)
            {
                _inputStart = 0;
                _inputEnd = await _raw.ReadAsync(_input.AsMemory(), ct).ConfigureAwait(false);
                _rawEnded = _inputEnd == 0;
            }
            if (_inputStart == _inputEnd && _rawEnded && _frameDone)
            {
                return 0;
            }
            var input = _input.AsSpan(_inputStart, _inputEnd - _inputStart);
            OperationStatus status;
            int consumed, written;
            if (_codec == Codec.Brotli)
            {
                if (_frameDone) throw new InvalidDataException("trailing data after the end of the brotli stream");
                status = _brotli.Decompress(input, buffer.Span, out consumed, out written);
            }
            else
            {
                try
                {
                    status = _zstd!.UnwrapStream(input, buffer.Span, out consumed, out written);
                }
                catch (ZstdSharp.ZstdException e)
                {
                    throw new InvalidDataException($"corrupt zstd stream: {e.Message}", e);
                }
            }
            _inputStart += consumed;
            if (status == OperationStatus.InvalidData)
            {
                throw new InvalidDataException($"corrupt {ContentCodec.HeaderValue(_codec)} stream");
            }
            // Done: a brotli stream or a zstd frame ended; a zstd frame may be followed by another.
            if (status == OperationStatus.Done) _frameDone = true;
            else if (consumed > 0 || written > 0) _frameDone = false;
            if (written > 0) return written;
            if (_inputStart == _inputEnd && _rawEnded && !_frameDone)
            {
                // The input is used up and the decoder has nothing more to give: the stream was cut.
                throw new InvalidDataException($"truncated {ContentCodec.HeaderValue(_codec)} stream");
            }
        }
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            if (_gzip is not null) _gzip.Dispose();
            else _raw.Dispose();
            _zstd?.Dispose();
            if (_input is not null)
            {
                if (_codec == Codec.Brotli) _brotli.Dispose();
                ArrayPool<byte>.Shared.Return(_input);
            }
        }
        base.Dispose(disposing);
    }
}
