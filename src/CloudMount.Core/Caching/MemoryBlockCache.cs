using Microsoft.Extensions.Caching.Memory;

namespace CloudMount.Core.Caching;

/// <summary>
/// The in-memory tier: 1 MiB blocks of object versions in a size-limited
/// <see cref="Microsoft.Extensions.Caching.Memory.MemoryCache"/> (sizes in bytes, compacted when full).
/// </summary>
public sealed class MemoryBlockCache : IDisposable
{
    /// <summary>Blocks by (version id, block index); bound: <see cref="CapacityBytes"/> bytes of blocks (its size limit;
    /// a full cache drops the oldest quarter).</summary>
    private readonly MemoryCache _cache;

    /// <summary>Creates the tier.</summary>
    /// <param name="capacityBytes">Most bytes held.</param>
    public MemoryBlockCache(long capacityBytes)
    {
        CapacityBytes = capacityBytes;
        _cache = new MemoryCache(new MemoryCacheOptions { SizeLimit = Math.Max(1, capacityBytes), CompactionPercentage = 0.25 });
    }

    /// <summary>Most bytes held.</summary>
    public long CapacityBytes { get; }

    private static (string, long) KeyOf(in ObjectVersion v, long block) => (v.Id, block);

    /// <summary>Copies a cached block into <paramref name="destination"/>; false on a miss.</summary>
    public bool TryRead(in ObjectVersion v, long block, Span<byte> destination)
    {
        if (!_cache.TryGetValue(KeyOf(v, block), out byte[]? data) || data is null) return false;
        data.CopyTo(destination);
        return true;
    }

    /// <summary>Copies <c>destination.Length</c> bytes of a cached block, from byte <paramref name="from"/> of the block; false on a miss.</summary>
    public bool TryRead(in ObjectVersion v, long block, int from, Span<byte> destination)
    {
        if (!_cache.TryGetValue(KeyOf(v, block), out byte[]? data) || data is null || from + destination.Length > data.Length) return false;
        data.AsSpan(from, destination.Length).CopyTo(destination);
        return true;
    }

    /// <summary>True when the block is held.</summary>
    public bool Contains(in ObjectVersion v, long block) => _cache.TryGetValue(KeyOf(v, block), out _);

    /// <summary>Keeps copies of whole blocks starting at <paramref name="firstBlock"/>.</summary>
    public void Write(in ObjectVersion v, long firstBlock, ReadOnlySpan<byte> data)
    {
        if (CapacityBytes <= 0) return;
        for (long b = firstBlock, at = 0; at < data.Length; b++, at += ObjectVersion.BlockSize)
        {
            int length = v.BlockLength(b);
            if (at + length > data.Length) break;
            byte[] copy = data.Slice((int)at, length).ToArray();
            _cache.Set(KeyOf(v, b), copy, new MemoryCacheEntryOptions { Size = length });
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _cache.Dispose();
}
