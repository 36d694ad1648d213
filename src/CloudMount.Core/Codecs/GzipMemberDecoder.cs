using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using System.IO.Hashing;

namespace CloudMount.Core.Codecs;

/// <summary>
/// Decodes a gzip stream of one or more members (RFC 1952 §2.2: "a gzip file consists of a series of members";
/// <c>cat a.gz b.gz</c> and BGZF files have many) and proves every member complete: each member's header is
/// parsed here, its deflate data inflated by <see cref="DeflateStream"/>, and its trailer (CRC-32 and ISIZE, the
/// decoded length mod 2^32) must follow the deflate data and match the bytes produced.
/// </summary>
/// <remarks>
/// The framework's GZipStream returns a short result without an error when the input is cut anywhere, even inside
/// a trailer (measured on .NET 10), and reports no member boundaries, so neither truncation nor a multi-member
/// stream's last ISIZE can be checked through it. <see cref="DeflateStream"/> does not say how much of its input
/// it used either; it only asks for more once it has used all it had, so the unused rest lies in the last chunk
/// it was given, and the trailer, whose 8 bytes are known once the member's output is, is found there.
/// Failures are <see cref="InvalidDataException"/>: bad header, corrupt deflate data, a trailer that does not
/// match (corrupt or truncated), or bytes after the last member that do not start another one.
/// </remarks>
public sealed class GzipMemberDecoder : ReadOnlyStreamBase
{
    private const int BufferBytes = 64 * 1024;
    /// <summary>The most handed to the inflater at once, so the unused rest to search stays small.</summary>
    private const int ChunkBytes = 16 * 1024;

    private readonly Stream _raw;
    private readonly byte[] _buffer = ArrayPool<byte>.Shared.Rent(BufferBytes);
    private int _pos, _len;
    private bool _rawEnded;
    private int _lastChunkStart;
    private DeflateStream? _member;
    private readonly Crc32 _crc = new();
    private long _memberLength;
    private bool _finished;

    /// <summary>Wraps <paramref name="encoded"/> (owned).</summary>
    public GzipMemberDecoder(Stream encoded)
    {
        _raw = encoded;
    }

    /// <summary>Stored bytes read from the source so far.</summary>
    public long EncodedBytes { get; private set; }

    /// <summary>Members decoded completely so far.</summary>
    public int Members { get; private set; }

    /// <inheritdoc/>
    protected override async ValueTask<int> ReadCoreAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        if (buffer.Length == 0) return 0;
        while (!_finished)
        {
            if (_member is null)
            {
                if (Members > 0 && !await HasMoreAsync(cancellationToken).ConfigureAwait(false))
                {
                    _finished = true;
                    break;
                }
                await ReadHeaderAsync(cancellationToken).ConfigureAwait(false);
                _member = new DeflateStream(new Feeder(this), CompressionMode.Decompress, leaveOpen: false);
                _crc.Reset();
                _memberLength = 0;
            }
            int n = await _member.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            if (n > 0)
            {
                _crc.Append(buffer.Span[..n]);
                _memberLength += n;
                return n;
            }
            await _member.DisposeAsync().ConfigureAwait(false);
            _member = null;
            await EndMemberAsync(cancellationToken).ConfigureAwait(false);
        }
        return 0;
    }

    /// <summary>Finds the member's trailer after its deflate data and continues behind it.</summary>
    private async Task EndMemberAsync(CancellationToken ct)
    {
        // The trailer starts at or before the furthest the inflater got; have it and the 3 bytes after it at hand.
        int latest = _pos - _lastChunkStart;
        await EnsureAsync(latest + 8 + 3, fromLastChunk: true, ct).ConfigureAwait(false);
        int at = FindTrailer(_buffer.AsSpan(_lastChunkStart, _len - _lastChunkStart), latest, _rawEnded,
            _crc.GetCurrentHashAsUInt32(), (uint)_memberLength);
        if (at < 0)
        {
            throw new InvalidDataException(
                $"truncated or corrupt gzip stream: member {Members + 1} has no trailer matching its {_memberLength} decoded bytes (CRC-32 and ISIZE)");
        }
        _pos = _lastChunkStart + at + 8;
        _lastChunkStart = _pos;
        Members++;
    }

    /// <summary>
    /// The offset in <paramref name="window"/> of the 8 bytes CRC-32, ISIZE (little-endian) at or before
    /// <paramref name="latest"/> that are followed by the end of the input or by another member's magic; -1 if none.
    /// (The follower check matters for trailers of zeros: an empty member's deflate data ends in a zero byte.)
    /// </summary>
    private static int FindTrailer(ReadOnlySpan<byte> window, int latest, bool inputEnds, uint crc, uint isize)
    {
        Span<byte> trailer = stackalloc byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(trailer, crc);
        BinaryPrimitives.WriteUInt32LittleEndian(trailer[4..], isize);
        int from = 0;
        while (from <= latest)
        {
            int i = window[from..].IndexOf(trailer);
            if (i < 0 || from + i > latest) return -1;
            int at = from + i;
            var after = window[(at + 8)..];
            if ((after.IsEmpty && inputEnds) || (after.Length >= 3 && after[0] == 0x1f && after[1] == 0x8b && after[2] == 8)) return at;
            from = at + 1;
        }
        return -1;
    }

    /// <summary>Whether bytes follow the last member; they must begin another member.</summary>
    private async Task<bool> HasMoreAsync(CancellationToken ct)
    {
        await EnsureAsync(1, fromLastChunk: false, ct).ConfigureAwait(false);
        return _pos < _len;
    }

    private async Task ReadHeaderAsync(CancellationToken ct)
    {
        byte id1 = await ReadByteAsync(ct).ConfigureAwait(false);
        byte id2 = await ReadByteAsync(ct).ConfigureAwait(false);
        if (id1 != 0x1f || id2 != 0x8b)
        {
            throw new InvalidDataException(Members == 0 ? "not a gzip stream (bad magic)" : "trailing data after the end of the gzip stream");
        }
        byte cm = await ReadByteAsync(ct).ConfigureAwait(false);
        byte flags = await ReadByteAsync(ct).ConfigureAwait(false);
        if (cm != 8 || (flags & 0xE0) != 0)
        {
            throw new InvalidDataException("unsupported gzip header (compression method or reserved flags)");
        }
        await SkipAsync(6, ct).ConfigureAwait(false); // MTIME, XFL, OS
        if ((flags & 0x04) != 0) // FEXTRA
        {
            int xlen = await ReadByteAsync(ct).ConfigureAwait(false) | (await ReadByteAsync(ct).ConfigureAwait(false) << 8);
            await SkipAsync(xlen, ct).ConfigureAwait(false);
        }
        if ((flags & 0x08) != 0) await SkipZeroTerminatedAsync(ct).ConfigureAwait(false); // FNAME
        if ((flags & 0x10) != 0) await SkipZeroTerminatedAsync(ct).ConfigureAwait(false); // FCOMMENT
        if ((flags & 0x02) != 0) await SkipAsync(2, ct).ConfigureAwait(false); // FHCRC
        _lastChunkStart = _pos;
    }

    private async Task SkipZeroTerminatedAsync(CancellationToken ct)
    {
        while (await ReadByteAsync(ct).ConfigureAwait(false) != 0) { }
    }

    private async Task SkipAsync(int count, CancellationToken ct)
    {
        for (int i = 0; i < count; i++) await ReadByteAsync(ct).ConfigureAwait(false);
    }

    private async ValueTask<byte> ReadByteAsync(CancellationToken ct)
    {
        if (_pos == _len)
        {
            await EnsureAsync(1, fromLastChunk: false, ct).ConfigureAwait(false);
            if (_pos == _len) throw new InvalidDataException("truncated gzip stream: the input ends inside a member header");
        }
        return _buffer[_pos++];
    }

    /// <summary>
    /// Reads from the source until <paramref name="bytes"/> bytes are buffered after <c>_pos</c> (or, with
    /// <paramref name="fromLastChunk"/>, after the start of the last chunk given to the inflater), or it ends.
    /// Bytes before that start are dropped to make room.
    /// </summary>
    private async Task EnsureAsync(int bytes, bool fromLastChunk, CancellationToken ct)
    {
        int keepFrom = fromLastChunk ? _lastChunkStart : _pos;
        while (_len - keepFrom < bytes && !_rawEnded)
        {
            if (_len == _buffer.Length || (keepFrom > 0 && _buffer.Length - _len < ChunkBytes))
            {
                Buffer.BlockCopy(_buffer, keepFrom, _buffer, 0, _len - keepFrom);
                _len -= keepFrom;
                _pos -= keepFrom;
                _lastChunkStart = Math.Max(0, _lastChunkStart - keepFrom);
                keepFrom = 0;
            }
            int n = await _raw.ReadAsync(_buffer.AsMemory(_len), ct).ConfigureAwait(false);
            if (n == 0)
            {
                _rawEnded = true;
                break;
            }
            _len += n;
            EncodedBytes += n;
        }
    }

    /// <summary>Hands the inflater the member's bytes in chunks, remembering where the last one began.</summary>
    private async ValueTask<int> FeedAsync(Memory<byte> destination, CancellationToken ct)
    {
        if (_pos == _len)
        {
            _lastChunkStart = _pos;
            await EnsureAsync(1, fromLastChunk: false, ct).ConfigureAwait(false);
            if (_pos == _len) return 0;
        }
        int n = Math.Min(Math.Min(destination.Length, ChunkBytes), _len - _pos);
        _lastChunkStart = _pos;
        _buffer.AsMemory(_pos, n).CopyTo(destination);
        _pos += n;
        return n;
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _member?.Dispose();
            _raw.Dispose();
            ArrayPool<byte>.Shared.Return(_buffer);
        }
        base.Dispose(disposing);
    }

    /// <summary>The inflater's view of the stored bytes.</summary>
    private sealed class Feeder(GzipMemberDecoder owner) : ReadOnlyStreamBase
    {
        protected override ValueTask<int> ReadCoreAsync(Memory<byte> buffer, CancellationToken cancellationToken) =>
            owner.FeedAsync(buffer, cancellationToken);
    }
}
