using System.Buffers;
using System.IO.Compression;

namespace CloudMount.Core.Codecs;

/// <summary>
/// Decodes gzip, brotli or zstd and fails, rather than end quietly, when the encoded bytes are truncated or have
/// trailing garbage. The framework's GZipStream and BrotliStream return a short result for a truncated input
/// without an error (measured; zstd throws), so:
/// <list type="bullet">
/// <item>gzip: zlib checks each member's CRC-32 when it reaches the trailer; at the end, the decoded length
/// (mod 2^32) must equal ISIZE, the stored object's last 4 bytes (RFC 1952), which a truncated object fails;</item>
/// <item>brotli: decoded with <see cref="BrotliDecoder"/>, whose status must be <c>Done</c> when the input ends;</item>
/// <item>zstd: ZstdSharp throws on a truncated frame and verifies the content checksum when the frame has one.</item>
/// </list>
/// Every decoder must consume the whole stored object. Failures are <see cref="InvalidDataException"/>.
/// </summary>
public sealed class VerifyingDecoder : ReadOnlyStreamBase
{
    private readonly Codec _codec;
    private readonly TailCapture _raw;
    private readonly Stream? _decoder;
    private BrotliDecoder _brotli;
    private readonly byte[]? _input;
    private int _inputStart, _inputEnd;
    private bool _rawEnded, _finished;
    private long _decoded;

    /// <summary>Wraps <paramref name="encoded"/> (owned) in a decoder of <paramref name="codec"/>.</summary>
    public VerifyingDecoder(Codec codec, Stream encoded)
    {
        _codec = codec;
        _raw = new TailCapture(encoded);
        switch (codec)
        {
            case Codec.Gzip:
                _decoder = new GZipStream(_raw, CompressionMode.Decompress);
                break;
            case Codec.Zstd:
                _decoder = new ZstdSharp.DecompressionStream(_raw);
                break;
            case Codec.Brotli:
                _brotli = new BrotliDecoder();
                _input = ArrayPool<byte>.Shared.Rent(64 * 1024);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(codec), "identity needs no decoder");
        }
    }

    /// <summary>Stored (encoded) bytes consumed so far.</summary>
    public long EncodedBytes => _raw.Total;

    /// <inheritdoc/>
    protected override async ValueTask<int> ReadCoreAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        if (_finished || buffer.Length == 0) return 0;
        int n = _codec == Codec.Brotli
            ? await ReadBrotliAsync(buffer, cancellationToken).ConfigureAwait(false)
            : await _decoder!.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        if (n > 0)
        {
            _decoded += n;
            return n;
        }
        _finished = true;
        // The decoder is done: nothing may be left of the stored object.
        if (await _raw.ReadAsync(new byte[1], cancellationToken).ConfigureAwait(false) > 0)
        {
            throw new InvalidDataException("trailing data after the end of the encoded stream");
        }
        if (_codec == Codec.Gzip && (_raw.Total < 18 || (uint)_decoded != (uint)ContentCodec.GzipIsize(_raw.Tail)))
        {
            throw new InvalidDataException($"truncated gzip stream: {_decoded} bytes decoded, the trailer says {ContentCodec.GzipIsize(_raw.Tail)}");
        }
        return 0;
    }

    private async ValueTask<int> ReadBrotliAsync(Memory<byte> buffer, CancellationToken ct)
    {
        while (true)
        {
            if (_inputStart == _inputEnd && !_rawEnded)
            {
                _inputStart = 0;
                _inputEnd = await _raw.ReadAsync(_input.AsMemory(), ct).ConfigureAwait(false);
                _rawEnded = _inputEnd == 0;
            }
            var status = _brotli.Decompress(_input.AsSpan(_inputStart, _inputEnd - _inputStart), buffer.Span, out int consumed, out int written);
            _inputStart += consumed;
            if (written > 0) return written;
            switch (status)
            {
                case System.Buffers.OperationStatus.Done:
                    return 0;
                case System.Buffers.OperationStatus.InvalidData:
                    throw new InvalidDataException("invalid brotli stream");
                case System.Buffers.OperationStatus.NeedMoreData when _rawEnded:
                    throw new InvalidDataException("truncated brotli stream");
            }
        }
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _decoder?.Dispose();
            _raw.Dispose();
            if (_input is not null)
            {
                _brotli.Dispose();
                ArrayPool<byte>.Shared.Return(_input);
            }
        }
        base.Dispose(disposing);
    }

    /// <summary>Passes bytes through, counting them and keeping the last 4.</summary>
    private sealed class TailCapture(Stream inner) : ReadOnlyStreamBase
    {
        private readonly byte[] _tail = new byte[4];

        public long Total { get; private set; }

        public ReadOnlySpan<byte> Tail => _tail;

        protected override async ValueTask<int> ReadCoreAsync(Memory<byte> buffer, CancellationToken cancellationToken)
        {
            int n = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            if (n >= 4)
            {
                buffer.Span.Slice(n - 4, 4).CopyTo(_tail);
            }
            else if (n > 0)
            {
                // Shift the kept bytes left and append the new ones.
                Array.Copy(_tail, n, _tail, 0, 4 - n);
                buffer.Span[..n].CopyTo(_tail.AsSpan(4 - n));
            }
            Total += n;
            return n;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }
    }
}
