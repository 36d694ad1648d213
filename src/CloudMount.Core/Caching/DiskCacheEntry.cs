using Microsoft.Win32.SafeHandles;

namespace CloudMount.Core.Caching;

/// <summary>
/// One cached object version of the <see cref="DiskCache"/>: its data file, its record, the bitmap of blocks present,
/// and the descriptors open on its data file (opened on use, closed by <see cref="OpenFiles"/> when too many are open).
/// </summary>
/// <remarks>Every mutable field is guarded by <see cref="Sync"/>.</remarks>
internal sealed class DiskCacheEntry(ObjectVersion version, string dataPath, string metaPath, bool[] blocks, DateTimeOffset lastAccess, string? encoding)
{
    /// <summary>The stored object's Content-Encoding ("" for none): cached bytes are stored bytes.</summary>
    public string? Encoding = encoding;
    public readonly Lock Sync = new();
    public ObjectVersion Version { get; } = version;
    public string DataPath { get; } = dataPath;
    public string MetaPath { get; } = metaPath;
    public bool[] Blocks { get; } = blocks;
    public DateTimeOffset LastAccess = lastAccess;
    /// <summary>The last access time the record on disk holds.</summary>
    public DateTimeOffset SavedAccess;
    /// <summary>Buffered handle, for I/O that is not aligned and for reads through the page cache.</summary>
    public SafeFileHandle? Handle;
    /// <summary>O_DIRECT handle, for aligned I/O (null until opened, or where the filesystem refuses it).</summary>
    public SafeFileHandle? Direct;
    public bool DirectRefused;
    public bool Evicted;
    /// <summary>Blocks written to the data file but not yet flushed and claimed.</summary>
    public readonly HashSet<long> Pending = [];
    /// <summary>This entry's node in the <see cref="OpenFiles"/> list (guarded by that list's lock).</summary>
    public LinkedListNode<DiskCacheEntry>? OpenNode;

    /// <summary>The buffered handle, opened if needed. Caller holds <see cref="Sync"/>.</summary>
    public SafeFileHandle BufferedHandle(OpenFiles open)
    {
        if (Handle is null)
        {
            Handle = File.OpenHandle(DataPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
            open.Opened(this);
        }
        return Handle;
    }

    /// <summary>The direct handle when <paramref name="span"/> may use it. Caller holds <see cref="Sync"/>.</summary>
    public SafeFileHandle? DirectHandleFor(ReadOnlySpan<byte> span, OpenFiles open)
    {
        if (DirectRefused || !BufferPool.IsAligned(span) || span.Length % BufferPool.Alignment != 0) return null;
        if (Direct is null)
        {
            Direct = DirectFile.TryOpen(DataPath);
            DirectRefused = Direct is null;
            if (Direct is not null) open.Opened(this);
        }
        return Direct;
    }

    /// <summary>Closes both descriptors (a read in flight on one finishes first: the handle counts its users). Caller holds <see cref="Sync"/>.</summary>
    public void CloseHandles()
    {
        Handle?.Dispose();
        Handle = null;
        Direct?.Dispose();
        Direct = null;
    }

    /// <summary>Bytes of the blocks present. Caller holds <see cref="Sync"/>.</summary>
    public long PresentBytes()
    {
        long n = 0;
        for (long b = 0; b < Blocks.Length; b++)
        {
            if (Blocks[b]) n += Version.BlockLength(b);
        }
        return n;
    }
}

/// <summary>
/// The disk cache entries that have descriptors open, least recently used first: once more than
/// <see cref="Capacity"/> entries have open descriptors, the oldest are closed (they reopen on their next use). This
/// keeps the process's descriptors bounded however many object versions the cache holds (a mount reading 20,000
/// files needs no 20,000 descriptors).
/// </summary>
/// <remarks>
/// Bound: at most <see cref="Capacity"/> entries (two descriptors each) stay open, plus one per cache operation in
/// progress between its open and the trim that follows it. Lock order: an entry's <c>Sync</c> may be held when
/// <c>_lock</c> is taken, never the other way round; <see cref="Trim"/> takes entries' locks with <c>_lock</c> released.
/// </remarks>
internal sealed class OpenFiles(int capacity)
{
    private readonly Lock _lock = new();
    private readonly LinkedList<DiskCacheEntry> _lru = new();   // most recently used last; protected by _lock

    /// <summary>Entries that may keep descriptors open.</summary>
    public int Capacity { get; } = Math.Max(1, capacity);

    /// <summary>Entries with descriptors open now.</summary>
    public int Count
    {
        get { lock (_lock) return _lru.Count; }
    }

    /// <summary>Records a use of <paramref name="e"/>'s descriptors (opened or reused). Caller holds <c>e.Sync</c>.</summary>
    public void Opened(DiskCacheEntry e)
    {
        lock (_lock)
        {
            if (e.OpenNode is { } node) _lru.Remove(node);
            e.OpenNode = _lru.AddLast(e);
        }
    }

    /// <summary>Records that <paramref name="e"/> was used, if it has descriptors open. Caller holds <c>e.Sync</c>.</summary>
    public void Touch(DiskCacheEntry e)
    {
        lock (_lock)
        {
            if (e.OpenNode is { } node && node.List is not null)
            {
                _lru.Remove(node);
                _lru.AddLast(node);
            }
        }
    }

    /// <summary>Forgets <paramref name="e"/> (its descriptors were closed). Caller holds <c>e.Sync</c>.</summary>
    public void Closed(DiskCacheEntry e)
    {
        lock (_lock)
        {
            if (e.OpenNode is { } node && node.List is not null) _lru.Remove(node);
            e.OpenNode = null;
        }
    }

    /// <summary>Closes the descriptors of the least recently used entries beyond <see cref="Capacity"/>. Call with no lock held.</summary>
    public void Trim()
    {
        while (true)
        {
            DiskCacheEntry victim;
            lock (_lock)
            {
                if (_lru.Count <= Capacity) return;
                victim = _lru.First!.Value;
                _lru.RemoveFirst();
                victim.OpenNode = null;
            }
            lock (victim.Sync)
            {
                if (victim.OpenNode is null) victim.CloseHandles(); // not reopened meanwhile
            }
        }
    }
}
