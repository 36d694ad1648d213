using System.Buffers.Binary;
using System.Numerics;
using System.Security.Cryptography;

namespace CloudMount.Core.Storage;

/// <summary>
/// CRC32C (Castagnoli, the checksum GCS keeps for every object, RFC 3720 §B.4) and MD5 as the object layer uses them:
/// incremental, with the CPU's CRC32 instruction through <see cref="BitOperations.Crc32C(uint, ulong)"/>, and
/// CRC32C of a concatenation from the CRCs of its parts (zlib's <c>crc32_combine</c> method), so a composed object
/// can be checked without reading it back.
/// </summary>
public sealed class ContentHasher : IDisposable
{
    private readonly IncrementalHash? _md5;
    private uint _crc = ~0u;

    /// <summary>Creates a hasher; MD5 costs about ten times what CRC32C does, so it is optional.</summary>
    public ContentHasher(bool md5) => _md5 = md5 ? IncrementalHash.CreateHash(HashAlgorithmName.MD5) : null;

    /// <summary>Bytes hashed so far.</summary>
    public long Length { get; private set; }

    /// <summary>Adds bytes.</summary>
    public void Append(ReadOnlySpan<byte> data)
    {
        _md5?.AppendData(data);
        _crc = Crc32C.Append(_crc, data);
        Length += data.Length;
    }

    /// <summary>The CRC32C of the bytes so far.</summary>
    public uint Crc32c => ~_crc;

    /// <summary>The MD5 (lower-case hex) of the bytes so far; the hasher must have been created with MD5.</summary>
    /// <exception cref="InvalidOperationException">Created without MD5.</exception>
    public string Md5Hex() => Convert.ToHexStringLower((_md5 ?? throw new InvalidOperationException("no MD5 requested")).GetCurrentHash());

    /// <summary>Hashes a whole content: its MD5 (hex, when <paramref name="md5"/>) and CRC32C.</summary>
    public static async Task<(string? Md5, uint Crc32c)> HashAsync(ObjectContent content, bool md5, CancellationToken ct)
    {
        using var hasher = new ContentHasher(md5);
        byte[] buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            await using var s = content.OpenRead();
            int n;
            while ((n = await s.ReadAsync(buffer, ct).ConfigureAwait(false)) > 0) hasher.Append(buffer.AsSpan(0, n));
            return (md5 ? hasher.Md5Hex() : null, hasher.Crc32c);
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _md5?.Dispose();
}

/// <summary>CRC32C helpers (the Castagnoli polynomial 0x1EDC6F41, reflected 0x82F63B78).</summary>
public static class Crc32C
{
    private const uint Poly = 0x82F63B78;

    /// <summary>Continues a raw (pre-inverted) CRC over <paramref name="data"/>; start with <c>~0u</c>, finish with <c>~crc</c>.</summary>
    public static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        while (data.Length >= 8)
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[8..];
        }
        foreach (byte b in data) crc = BitOperations.Crc32C(crc, b);
        return crc;
    }

    /// <summary>The CRC32C of <paramref name="data"/>.</summary>
    public static uint Compute(ReadOnlySpan<byte> data) => ~Append(~0u, data);

    /// <summary>
    /// The CRC32C of A followed by B, from CRC(A), CRC(B) and B's length: zlib's <c>crc32_combine</c>, which applies
    /// <paramref name="lengthB"/> zero bytes to CRC(A) by squaring a GF(2) operator matrix.
    /// </summary>
    public static uint Combine(uint crcA, uint crcB, long lengthB)
    {
        if (lengthB <= 0) return crcA;
        Span<uint> odd = stackalloc uint[32];
        Span<uint> even = stackalloc uint[32];
        odd[0] = Poly;
        uint row = 1;
        for (int n = 1; n < 32; n++)
        {
            odd[n] = row;
            row <<= 1;
        }
        Square(even, odd); // 2 zero bits
        Square(odd, even); // 4 zero bits
        do
        {
            Square(even, odd);
            if ((lengthB & 1) != 0) crcA = Times(even, crcA);
            lengthB >>= 1;
            if (lengthB == 0) break;
            Square(odd, even);
            if ((lengthB & 1) != 0) crcA = Times(odd, crcA);
            lengthB >>= 1;
        }
        while (lengthB != 0);
        return crcA ^ crcB;
    }

    private static uint Times(ReadOnlySpan<uint> matrix, uint vector)
    {
        uint sum = 0;
        for (int i = 0; vector != 0; i++, vector >>= 1)
        {
            if ((vector & 1) != 0) sum ^= matrix[i];
        }
        return sum;
    }

    private static void Square(Span<uint> square, ReadOnlySpan<uint> matrix)
    {
        for (int n = 0; n < 32; n++) square[n] = Times(matrix, matrix[n]);
    }

    /// <summary>Parses GCS's base64 big-endian CRC32C (<c>crc32c</c> fields, <c>x-goog-hash: crc32c=</c>); <c>null</c> when malformed.</summary>
    public static uint? FromBase64(string? value)
    {
        if (value is null) return null;
        Span<byte> b = stackalloc byte[8];
        return Convert.TryFromBase64String(value.Trim(), b, out int n) && n == 4 ? BinaryPrimitives.ReadUInt32BigEndian(b) : null;
    }

    /// <summary>GCS's base64 big-endian form of a CRC32C.</summary>
    public static string ToBase64(uint crc)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, crc);
        return Convert.ToBase64String(b);
    }
}
