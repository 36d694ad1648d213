using System.Security.Cryptography;
using System.Text;

namespace CloudMount.Core.Caching;

/// <summary>
/// One version of one object, as the caches know it: data cached under a version is valid for exactly that
/// ETag, so a changed object can never be served from an older copy.
/// </summary>
/// <param name="Store">The store's name, for example <c>s3://bucket</c>.</param>
/// <param name="Key">The object's key.</param>
/// <param name="ETag">The ETag the bytes belong to.</param>
/// <param name="Size">The object's size in bytes.</param>
public readonly record struct ObjectVersion(string Store, string Key, string ETag, long Size)
{
    /// <summary>Cache block size: 1 MiB. Read-ahead parts are whole, aligned blocks.</summary>
    public const int BlockSize = 1 << 20;

    /// <summary>
    /// A stable file-name-safe id: 40 hex digits of SHA-256 over store, key and ETag, computed once at construction
    /// (every cache lookup of a read uses it). A <c>with</c> expression would keep the old id, so none is used.
    /// </summary>
    public string Id { get; } = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{Store}\n{Key}\n{ETag}")))[..40];

    /// <summary>Number of blocks, the last one possibly short.</summary>
    public long BlockCount => (Size + BlockSize - 1) / BlockSize;

    /// <summary>Length in bytes of block <paramref name="block"/>.</summary>
    public int BlockLength(long block) => (int)Math.Min(BlockSize, Size - block * BlockSize);
}
