using System.Buffers.Binary;
using System.IO.Compression;

namespace CloudMount.Core.Codecs;

/// <summary>A Content-Encoding CloudMount can decode and encode.</summary>
public enum Codec
{
    /// <summary>Stored as is.</summary>
    Identity,
    /// <summary><c>gzip</c> (RFC 1952), via System.IO.Compression.</summary>
    Gzip,
    /// <summary><c>br</c> (RFC 7932), via System.IO.Compression.</summary>
    Brotli,
    /// <summary><c>zstd</c> (RFC 8878), via ZstdSharp.</summary>
    Zstd,
}

/// <summary>
/// Names, streams and size probes of the content encodings: <c>gzip</c>, <c>br</c> and <c>zstd</c>, as HTTP's
/// Content-Encoding registry names them.
/// </summary>
public static class ContentCodec
{
    /// <summary>
    /// The user-metadata name CloudMount stores the decoded size under, after S3's
    /// <c>x-amz-decoded-content-length</c> (the decoded length of an aws-chunked body).
    /// </summary>
    public const string DecodedLengthMetadata = "decoded-content-length";

    /// <summary>The encoding a Content-Encoding header names; <see cref="Codec.Identity"/> for none or an unknown one.</summary>
    public static Codec Parse(string? contentEncoding) => contentEncoding?.Trim().ToLowerInvariant() switch
    {
        "gzip" or "x-gzip" => Codec.Gzip,
        "br" => Codec.Brotli,
        "zstd" => Codec.Zstd,
        _ => Codec.Identity,
    };

    /// <summary>The Content-Encoding header value for an encoding, or <c>null</c> for identity.</summary>
    public static string? HeaderValue(Codec encoding) => encoding switch
    {
        Codec.Gzip => "gzip",
        Codec.Brotli => "br",
        Codec.Zstd => "zstd",
        _ => null,
    };

    /// <summary>Parses the <c>--compress</c> spelling: gzip, br (or brotli), zstd.</summary>
    /// <exception cref="FormatException">Not one of them.</exception>
    public static Codec ParseName(string name) => name.Trim().ToLowerInvariant() switch
    {
        "gzip" or "gz" => Codec.Gzip,
        "br" or "brotli" => Codec.Brotli,
        "zstd" or "zst" => Codec.Zstd,
        "none" or "identity" => Codec.Identity,
        _ => throw new FormatException($"'{name}' is not an encoding: use gzip, br or zstd"),
    };

    /// <summary>
    /// A stream of the decoded bytes of <paramref name="encoded"/>, which it owns; it throws
    /// <see cref="InvalidDataException"/> for corrupt, truncated or trailing data (<see cref="VerifyingDecoder"/>).
    /// </summary>
    public static Stream OpenDecoder(Codec encoding, Stream encoded) =>
        encoding == Codec.Identity ? encoded : new VerifyingDecoder(encoding, encoded);

    /// <summary>A stream that encodes what is written to it into <paramref name="output"/> (left open).</summary>
    /// <param name="encoding">The encoding.</param>
    /// <param name="output">Where the encoded bytes go.</param>
    /// <param name="level">gzip 1-9, br 0-11, zstd 1-22; <c>null</c> for each format's default.</param>
    public static Stream OpenEncoder(Codec encoding, Stream output, int? level) => encoding switch
    {
        Codec.Gzip => level is { } l ? new GZipStream(output, new ZLibCompressionOptions { CompressionLevel = Math.Clamp(l, 0, 9) }, leaveOpen: true) : new GZipStream(output, CompressionLevel.Optimal, leaveOpen: true),
        Codec.Brotli => level is { } b ? new BrotliStream(output, new BrotliCompressionOptions { Quality = Math.Clamp(b, 0, 11) }, leaveOpen: true) : new BrotliStream(output, CompressionLevel.Optimal, leaveOpen: true),
        Codec.Zstd => ZstdWithChecksum(new ZstdSharp.CompressionStream(output, level ?? 3, leaveOpen: true)),
        _ => throw new ArgumentOutOfRangeException(nameof(encoding), "identity has no encoder"),
    };

    /// <summary>Frames carry a content checksum, as the zstd tool writes by default, so corruption is caught on read.</summary>
    private static ZstdSharp.CompressionStream ZstdWithChecksum(ZstdSharp.CompressionStream stream)
    {
        stream.SetParameter(ZstdSharp.Unsafe.ZSTD_cParameter.ZSTD_c_checksumFlag, 1);
        return stream;
    }

    /// <summary>
    /// Reads the Frame_Content_Size of the first zstd frame (RFC 8878 §3.1.1.1): the decoded size when the encoder
    /// wrote it (the zstd tool does when it knows its input). The frame must be the only one for this to be the
    /// object's size; callers verify at the end of decoding.
    /// </summary>
    /// <param name="header">The first bytes of the object (18 are enough).</param>
    /// <param name="size">The content size.</param>
    /// <returns>False when the bytes are not a zstd frame header with a content size.</returns>
    public static bool TryZstdContentSize(ReadOnlySpan<byte> header, out long size)
    {
        size = 0;
        if (header.Length < 6 || BinaryPrimitives.ReadUInt32LittleEndian(header) != 0xFD2FB528) return false;
        byte descriptor = header[4];
        int fcsFlag = descriptor >> 6;
        bool singleSegment = (descriptor & 0x20) != 0;
        int dictIdBytes = (descriptor & 3) switch { 0 => 0, 1 => 1, 2 => 2, _ => 4 };
        int fcsBytes = fcsFlag switch { 0 => singleSegment ? 1 : 0, 1 => 2, 2 => 4, _ => 8 };
        if (fcsBytes == 0) return false;
        int at = 5 + (singleSegment ? 0 : 1) + dictIdBytes;
        if (header.Length < at + fcsBytes) return false;
        var field = header.Slice(at, fcsBytes);
        size = fcsBytes switch
        {
            1 => field[0],
            2 => BinaryPrimitives.ReadUInt16LittleEndian(field) + 256L,
            4 => BinaryPrimitives.ReadUInt32LittleEndian(field),
            _ => (long)BinaryPrimitives.ReadUInt64LittleEndian(field),
        };
        return size >= 0;
    }

    /// <summary>
    /// Reads ISIZE, the decoded size modulo 2^32 in a gzip member's last 4 bytes (RFC 1952 §2.3.1). It is the
    /// object's size only for a single member under 4 GiB; callers verify at the end of decoding.
    /// </summary>
    /// <param name="trailer">The object's last 4 bytes.</param>
    public static long GzipIsize(ReadOnlySpan<byte> trailer) => BinaryPrimitives.ReadUInt32LittleEndian(trailer);

    /// <summary>True when <paramref name="header"/> starts with the gzip magic 1f 8b.</summary>
    public static bool IsGzip(ReadOnlySpan<byte> header) => header.Length >= 2 && header[0] == 0x1f && header[1] == 0x8b;
}
