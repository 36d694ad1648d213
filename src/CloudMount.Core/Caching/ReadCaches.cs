using CloudMount.Core.Diagnostics;

namespace CloudMount.Core.Caching;

/// <summary>
/// The data cache tiers a read consults before the store: memory, then disk. Counts hits and misses per tier
/// (metrics and the unmount line). Either tier may be absent.
/// </summary>
public sealed class ReadCaches(MemoryBlockCache? memory, DiskCache? disk) : IAsyncDisposable
{
    private readonly CacheWriter? _writer = disk is null ? null : new CacheWriter(disk);
    private long _memoryHits, _diskHits, _misses;

    /// <summary>The memory tier, or null.</summary>
    public MemoryBlockCache? Memory { get; } = memory;

    /// <summary>The disk tier, or null.</summary>
    public DiskCache? Disk { get; } = disk;

    /// <summary>Object heads kept across mounts beside the disk tier (disposed with this), or null.</summary>
    public HeadJournal? Heads { get; init; }

    /// <summary>True when some tier holds the block.</summary>
    public bool Contains(in ObjectVersion v, long block) =>
        Memory?.Contains(v, block) == true || Disk?.Contains(v, block) == true;

    /// <summary>Copies a block from the first tier that has it; false when none does.</summary>
    /// <param name="v">The version.</param>
    /// <param name="block">The block's index.</param>
    /// <param name="destination">At least the block's length, from a <see cref="BufferPool"/> (aligned).</param>
    /// <param name="preferPageCache">Read the disk tier through the page cache (random readers) rather than with direct I/O.</param>
    public bool TryRead(in ObjectVersion v, long block, ArraySegment<byte> destination, bool preferPageCache = false)
    {
        if (Memory?.TryRead(v, block, destination) == true)
        {
            Interlocked.Increment(ref _memoryHits);
            CloudMountMetrics.CacheHits.Add(1, new KeyValuePair<string, object?>("tier", "memory"));
            return true;
        }
        if (Disk?.TryRead(v, block, destination, preferPageCache) == true)
        {
            Interlocked.Increment(ref _diskHits);
            CloudMountMetrics.CacheHits.Add(1, new KeyValuePair<string, object?>("tier", "disk"));
            return true;
        }
        Interlocked.Increment(ref _misses);
        CloudMountMetrics.CacheMisses.Add(1, new KeyValuePair<string, object?>("tier", Disk is null ? "memory" : "disk"));
        return false;
    }

    /// <summary>
    /// Copies bytes [<paramref name="offset"/>, <paramref name="offset"/> + <c>destination.Length</c>) of a version
    /// from the tiers, block by block (memory first, then disk through the page cache), copying only those bytes;
    /// false as soon as a block is in no tier (the destination then holds a partial copy to ignore).
    /// </summary>
    /// <param name="v">The version.</param>
    /// <param name="offset">First byte, in bytes from the object's start.</param>
    /// <param name="destination">Where the bytes go; its length is the count (within the object).</param>
    public bool TryReadBytes(in ObjectVersion v, long offset, Span<byte> destination)
    {
        const int block = ObjectVersion.BlockSize;
        int done = 0;
        while (done < destination.Length)
        {
            long at = offset + done;
            long b = at / block;
            int from = (int)(at - b * block);
            int count = Math.Min(destination.Length - done, block - from);
            var target = destination.Slice(done, count);
            if (Memory?.TryRead(v, b, from, target) == true)
            {
                Interlocked.Increment(ref _memoryHits);
                CloudMountMetrics.CacheHits.Add(1, new KeyValuePair<string, object?>("tier", "memory"));
            }
            else if (Disk?.TryReadBytes(v, at, target) == true)
            {
                Interlocked.Increment(ref _diskHits);
                CloudMountMetrics.CacheHits.Add(1, new KeyValuePair<string, object?>("tier", "disk"));
            }
            else
            {
                return false;
            }
            done += count;
        }
        return true;
    }

    /// <summary>
    /// Bytes [<paramref name="offset"/>, <paramref name="offset"/> + <paramref name="length"/>) of a version as a range
    /// of the disk tier's data file, when it holds every block they touch; <c>null</c> otherwise. A FUSE reply splices
    /// them from the page cache (no copy through the process); disposing the lease lets the descriptor go.
    /// </summary>
    /// <param name="v">The version.</param>
    /// <param name="offset">First byte, in bytes from the object's start.</param>
    /// <param name="length">How many bytes (within the object).</param>
    public Reading.ReadLease? TryLeaseFile(in ObjectVersion v, long offset, int length)
    {
        if (Disk is not { } disk || !disk.TryLeaseBytes(v, offset, length, out var handle)) return null;
        long blocks = (offset + length - 1) / ObjectVersion.BlockSize - offset / ObjectVersion.BlockSize + 1;
        Interlocked.Add(ref _diskHits, blocks);
        CloudMountMetrics.CacheHits.Add(blocks, new KeyValuePair<string, object?>("tier", "disk"));
        return new Reading.ReadLease(new Reading.FileBytes(handle, offset, length), handle.DangerousRelease);
    }

    /// <summary>
    /// Stores blocks fetched from the store: in memory at once when <paramref name="inMemory"/>, on disk in the
    /// background. <paramref name="release"/> is called when the bytes are no longer needed (at once without a disk tier).
    /// </summary>
    public void Store(in ObjectVersion v, long firstBlock, ArraySegment<byte> data, bool inMemory, string? encoding, Action release)
    {
        if (inMemory) Memory?.Write(v, firstBlock, data);
        if (_writer is not null)
        {
            _writer.Enqueue(v, firstBlock, data, encoding ?? "", release);
        }
        else
        {
            release();
        }
    }

    /// <summary>Finishes queued disk writes.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_writer is not null) await _writer.DisposeAsync().ConfigureAwait(false);
        Heads?.Dispose();
    }

    /// <summary>One line for the unmount log: <c>cache: memory hits N, disk hits N, misses N; disk 12.0 MiB</c>.</summary>
    public override string ToString() =>
        $"cache: memory hits {Interlocked.Read(ref _memoryHits)}, disk hits {Interlocked.Read(ref _diskHits)}, misses {Interlocked.Read(ref _misses)}" +
        (Disk is { } d ? $"; disk {Bytes.Format(d.UsedBytes)} of {Bytes.Format(d.CapacityBytes)}" : "");
}
