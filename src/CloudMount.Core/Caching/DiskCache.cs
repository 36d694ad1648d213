using System.Text.Json;
using System.Text.Json.Serialization;
using CloudMount.Core.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Win32.SafeHandles;

namespace CloudMount.Core.Caching;

/// <summary>
/// The persistent data cache: ranges of objects kept on local disk across mounts and reboots, keyed by store,
/// key and ETag (<see cref="ObjectVersion"/>), evicted least-recently-used beyond a size limit.
/// </summary>
/// <remarks>
/// <para>Layout: <c>DIR/data/ab/ID.data</c> is a sparse file at the object's offsets; <c>ID.meta</c> is JSON naming
/// the store, key, ETag, size, last access and a bitmap of the 1 MiB blocks present.</para>
/// <para>Crash safety: blocks are written to the data file and flushed to disk (fdatasync) <em>before</em> a new
/// record naming them replaces the old one by rename, so a record never claims a block whose bytes are not on
/// disk. A torn write leaves at worst an unclaimed block. Written but unclaimed ("pending") blocks are served to
/// this process at once; <see cref="Commit"/> claims them later, in batches, so the flushes stay off the read path.</para>
/// <para>One mount process owns a cache folder at a time (an exclusive lock on <c>DIR/data/.lock</c>); a second
/// mount on the same folder runs without a disk cache and says so.</para>
/// <para>Thread safety: <c>_lock</c> guards the index and totals; each entry's lock guards its file and bitmap.</para>
/// </remarks>
public sealed partial class DiskCache : IDisposable
{
    private readonly string _root;
    private readonly ILogger _logger;
    private readonly FileStream _lockFile;
    private readonly Lock _lock = new();
    /// <summary>Every cached version, by version id; protected by <c>_lock</c>. Bound: the versions whose blocks fit
    /// in <see cref="CapacityBytes"/> (least recently used ones are evicted beyond it).</summary>
    private readonly Dictionary<string, DiskCacheEntry> _entries = [];
    /// <summary>Newest version id per object; protected by <c>_lock</c>. Bound: one per entry.</summary>
    private readonly Dictionary<(string Store, string Key), string> _current = [];
    private long _usedBytes;
    /// <summary>Entries with descriptors open (at most <see cref="MaxOpenEntries"/>): the cache's descriptor bound.</summary>
    private readonly OpenFiles _open = new(MaxOpenEntries);

    /// <summary>Cached versions whose data files stay open (two descriptors each) between uses: 64.</summary>
    public const int MaxOpenEntries = 64;

    /// <summary>Cached versions with descriptors open now (for tests).</summary>
    public int OpenEntries => _open.Count;

    private DiskCache(string directory, long capacityBytes, ILogger logger, FileStream lockFile)
    {
        Directory = directory;
        CapacityBytes = capacityBytes;
        _root = Path.Combine(directory, "data");
        _logger = logger;
        _lockFile = lockFile;
        LoadIndex();
    }

    /// <summary>The cache folder.</summary>
    public string Directory { get; }

    /// <summary>Largest total of cached bytes before least-recently-used versions are evicted.</summary>
    public long CapacityBytes { get; }

    /// <summary>Bytes cached now (whole blocks present).</summary>
    public long UsedBytes
    {
        get { lock (_lock) return _usedBytes; }
    }

    /// <summary>
    /// Opens (creating if needed) the cache in <paramref name="directory"/>, or returns <c>null</c> when another
    /// process holds it.
    /// </summary>
    /// <exception cref="IOException">The folder cannot be created.</exception>
    public static DiskCache? Open(string directory, long capacityBytes, ILogger? logger = null)
    {
        logger ??= NullLogger.Instance;
        string data = Path.Combine(directory, "data");
        System.IO.Directory.CreateDirectory(data);
        FileStream lockFile;
        try
        {
            lockFile = new FileStream(Path.Combine(data, ".lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            logger.LogWarning("the disk cache in {Directory} is used by another mount; this mount runs without one", directory);
            return null;
        }
        return new DiskCache(directory, capacityBytes, logger, lockFile);
    }

    private void AddLocked(DiskCacheEntry e)
    {
        _entries[e.Version.Id] = e;
        _usedBytes += e.PresentBytes();
        var k = (e.Version.Store, e.Version.Key);
        if (!_current.TryGetValue(k, out var id) || _entries[id].LastAccess < e.LastAccess)
        {
            _current[k] = e.Version.Id;
        }
    }

    private DiskCacheEntry? Find(in ObjectVersion v)
    {
        lock (_lock) return _entries.TryGetValue(v.Id, out var e) && !e.Evicted ? e : null;
    }

    /// <summary>
    /// The Content-Encoding recorded with a cached version ("" for none), so a mount can tell a cached object is
    /// plain without asking the store; false when the version is not cached or its encoding was not recorded.
    /// </summary>
    public bool TryGetEncoding(in ObjectVersion v, out string encoding)
    {
        var e = Find(v);
        string? recorded = null;
        if (e is not null)
        {
            lock (e.Sync) recorded = e.Evicted ? null : e.Encoding;
        }
        encoding = recorded ?? "";
        return recorded is not null;
    }

    /// <summary>True when block <paramref name="block"/> of <paramref name="v"/> is cached.</summary>
    public bool Contains(in ObjectVersion v, long block)
    {
        var e = Find(v);
        if (e is null) return false;
        lock (e.Sync) return !e.Evicted && block < e.Blocks.Length && (e.Blocks[block] || e.Pending.Contains(block));
    }

    /// <summary>
    /// Copies a cached block into <paramref name="destination"/> (at least the block's length); false on a miss.
    /// An aligned destination whose array has room for the length rounded up to 4,096 is read with direct I/O,
    /// unless <paramref name="preferPageCache"/> (random readers, who may come back to the same block soon).
    /// Reads of one version run concurrently: the entry's lock is held only to find the descriptor.
    /// </summary>
    public bool TryRead(in ObjectVersion v, long block, ArraySegment<byte> destination, bool preferPageCache = false)
    {
        var e = Find(v);
        if (e is null) return false;
        int length = v.BlockLength(block);
        long offset = block * ObjectVersion.BlockSize;
        Span<byte> target;
        SafeFileHandle? handle = null;
        bool added = false;
        try
        {
            lock (e.Sync)
            {
                // Pending blocks are on the data file already (this process wrote them); only the record waits.
                if (e.Evicted || block >= e.Blocks.Length || !(e.Blocks[block] || e.Pending.Contains(block))) return false;
                int rounded = BufferPool.RoundUp(length);
                var wide = !preferPageCache && destination.Offset + rounded <= destination.Array!.Length
                    ? new Span<byte>(destination.Array, destination.Offset, rounded) : Span<byte>.Empty;
                var direct = wide.IsEmpty ? null : e.DirectHandleFor(wide, _open);
                target = direct is null ? destination.AsSpan(0, length) : wide;
                handle = direct ?? e.BufferedHandle(_open);
                _open.Touch(e);
                // A trim may close the descriptor while it is read: the handle's count keeps it open until then.
                handle.DangerousAddRef(ref added);
                e.LastAccess = DateTimeOffset.UtcNow;
            }
            _open.Trim();
            return ReadFully(handle, target, offset, length);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or UnauthorizedAccessException)
        {
            _logger.LogWarning("disk cache read of {Key} failed: {Error}", v.Key, ex.Message);
            return false;
        }
        finally
        {
            if (added) handle!.DangerousRelease();
        }
    }

    /// <summary>
    /// Stores whole blocks starting at block <paramref name="firstBlock"/> (the last may be the object's short
    /// final block). The bytes go to the data file now; they are claimed in the record only by
    /// <see cref="Commit"/>, after a flush to disk. Failures are logged; the cache is best effort.
    /// </summary>
    /// <returns>The entry's id, to pass to <see cref="Commit"/>, or <c>null</c> when nothing was written.</returns>
    /// <param name="v">The version.</param>
    /// <param name="firstBlock">Index of the first block in <paramref name="data"/>.</param>
    /// <param name="data">Whole blocks, the last possibly short.</param>
    /// <param name="encoding">The stored object's Content-Encoding, recorded with the version ("" for none).</param>
    public string? Write(in ObjectVersion v, long firstBlock, ArraySegment<byte> data, string? encoding = "")
    {
        var id = WriteCore(v, firstBlock, data, encoding);
        _open.Trim();
        return id;
    }

    private string? WriteCore(in ObjectVersion v, long firstBlock, ArraySegment<byte> data, string? encoding)
    {
        if (CapacityBytes <= 0 || v.Size <= 0) return null;
        DiskCacheEntry e;
        lock (_lock)
        {
            if (!_entries.TryGetValue(v.Id, out e!) || e.Evicted)
            {
                string dir = Path.Combine(_root, v.Id[..2]);
                System.IO.Directory.CreateDirectory(dir);
                e = new DiskCacheEntry(v, Path.Combine(dir, v.Id + ".data"), Path.Combine(dir, v.Id + ".meta"), new bool[v.BlockCount], DateTimeOffset.UtcNow, encoding ?? "");
                _entries[v.Id] = e;
            }
            // The newest version of a key replaces older ones.
            if (_current.TryGetValue((v.Store, v.Key), out var old) && old != v.Id && _entries.TryGetValue(old, out var oldDiskCacheEntry))
            {
                EvictLocked(oldDiskCacheEntry);
            }
            _current[(v.Store, v.Key)] = v.Id;
        }
        lock (e.Sync)
        {
            if (e.Evicted) return null;
            try
            {
                // Direct I/O when aligned: pad the tail to 4,096 with the bytes after it in the same buffer (past
                // the object's end, never read back).
                int rounded = BufferPool.RoundUp(data.Count);
                var wide = data.Offset + rounded <= data.Array!.Length ? new ReadOnlySpan<byte>(data.Array, data.Offset, rounded) : ReadOnlySpan<byte>.Empty;
                if (!wide.IsEmpty && e.DirectHandleFor(wide, _open) is { } direct)
                {
                    RandomAccess.Write(direct, wide, firstBlock * ObjectVersion.BlockSize);
                }
                else
                {
                    RandomAccess.Write(e.BufferedHandle(_open), data.AsSpan(), firstBlock * ObjectVersion.BlockSize);
                }
                long blocks = (data.Count + ObjectVersion.BlockSize - 1) / ObjectVersion.BlockSize;
                for (long b = firstBlock; b < firstBlock + blocks && b < e.Blocks.Length; b++)
                {
                    long have = data.Count - (b - firstBlock) * ObjectVersion.BlockSize;
                    if (!e.Blocks[b] && have >= v.BlockLength(b))
                    {
                        e.Pending.Add(b);
                    }
                }
                e.LastAccess = DateTimeOffset.UtcNow;
                return v.Id;
            }
            catch (IOException ex)
            {
                _logger.LogWarning("disk cache write of {Key} failed: {Error}", v.Key, ex.Message);
                return null;
            }
        }
    }

    /// <summary>
    /// Flushes an entry's written blocks to disk, then replaces its record to claim them (the crash-safe order),
    /// and evicts least-recently-used versions if the cache is over its size.
    /// </summary>
    public void Commit(string id)
    {
        CommitCore(id);
        _open.Trim();
    }

    /// <summary>
    /// Commits several entries with one flush of the cache's filesystem (syncfs) instead of one per entry: reading
    /// many small files makes many entries, and a flush each would cost the disk more than the reads.
    /// </summary>
    public void CommitMany(IReadOnlyCollection<string> ids)
    {
        if (ids.Count <= 4)
        {
            foreach (var id in ids) Commit(id);
            return;
        }
        // What each entry has written so far; the flush below covers exactly these blocks.
        var batch = new List<(string Id, long[] Blocks)>(ids.Count);
        foreach (var id in ids)
        {
            DiskCacheEntry? e;
            lock (_lock)
            {
                if (!_entries.TryGetValue(id, out e) || e.Evicted) continue;
            }
            lock (e.Sync) batch.Add((id, [.. e.Pending]));
        }
        if (!FileSystemSync.TrySync(_root))
        {
            foreach (var id in ids) Commit(id);
            return;
        }
        foreach (var (id, blocks) in batch) CommitCore(id, blocks);
        _open.Trim();
    }

    /// <summary>Claims an entry's pending blocks: all of them after flushing its file, or <paramref name="flushed"/> (already on disk).</summary>
    private void CommitCore(string id, long[]? flushed = null)
    {
        DiskCacheEntry? e;
        lock (_lock)
        {
            if (!_entries.TryGetValue(id, out e) || e.Evicted) return;
        }
        long added = 0;
        lock (e.Sync)
        {
            if (e.Evicted || e.Pending.Count == 0) return;
            try
            {
                if (flushed is null) RandomAccess.FlushToDisk(e.Direct ?? e.BufferedHandle(_open));
                foreach (long b in flushed ?? [.. e.Pending])
                {
                    if (!e.Pending.Remove(b)) continue;
                    if (!e.Blocks[b])
                    {
                        e.Blocks[b] = true;
                        added += e.Version.BlockLength(b);
                    }
                }
                SaveMeta(e);
            }
            catch (IOException ex)
            {
                _logger.LogWarning("disk cache commit of {Key} failed: {Error}", e.Version.Key, ex.Message);
                return;
            }
        }
        lock (_lock)
        {
            _usedBytes += added;
            if (_usedBytes > CapacityBytes)
            {
                EvictLeastRecentlyUsedLocked(CapacityBytes * 9 / 10, keep: e);
            }
        }
    }

    private void EvictLeastRecentlyUsedLocked(long target, DiskCacheEntry? keep)
    {
        foreach (var victim in _entries.Values.Where(x => !x.Evicted && x != keep).OrderBy(x => x.LastAccess).ToList())
        {
            if (_usedBytes <= target) break;
            EvictLocked(victim);
        }
    }

    private void EvictLocked(DiskCacheEntry e)
    {
        lock (e.Sync)
        {
            if (e.Evicted) return;
            e.Evicted = true;
            _usedBytes -= e.PresentBytes();
            e.CloseHandles();
            _open.Closed(e);
            File.Delete(e.MetaPath);
            File.Delete(e.DataPath);
        }
        _entries.Remove(e.Version.Id);
        if (_current.TryGetValue((e.Version.Store, e.Version.Key), out var id) && id == e.Version.Id)
        {
            _current.Remove((e.Version.Store, e.Version.Key));
        }
    }

    /// <summary>Every cached version, most recently used first.</summary>
    public IReadOnlyList<CacheEntryInfo> List()
    {
        lock (_lock)
        {
            return _entries.Values.Where(e => !e.Evicted)
                .Select(e => { lock (e.Sync) return new CacheEntryInfo(e.Version, e.PresentBytes(), e.LastAccess); })
                .OrderByDescending(i => i.LastAccess).ToList();
        }
    }

    /// <summary>Removes versions last used before <paramref name="olderThan"/> ago, or all with <paramref name="all"/>.</summary>
    /// <returns>How many versions were removed.</returns>
    public int Prune(TimeSpan? olderThan, bool all)
    {
        lock (_lock)
        {
            var cutoff = DateTimeOffset.UtcNow - (olderThan ?? TimeSpan.Zero);
            var victims = _entries.Values.Where(e => !e.Evicted && (all || e.LastAccess < cutoff)).ToList();
            foreach (var v in victims) EvictLocked(v);
            return victims.Count;
        }
    }

    /// <summary>Saves last-access times and releases the folder.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var e in _entries.Values)
            {
                lock (e.Sync)
                {
                    if (e.Evicted) continue;
                    e.CloseHandles();
                    _open.Closed(e);
                    try
                    {
                        // Only records whose last access moved by more than a minute since they were written (a mount that read 20,000 files
                        // must not rewrite 20,000 records on its way out).
                        if (e.LastAccess - e.SavedAccess > TimeSpan.FromMinutes(1) && File.Exists(e.MetaPath)) SaveMeta(e);
                    }
                    catch (IOException)
                    {
                        // Last-access times are advisory.
                    }
                }
            }
        }
        _lockFile.Dispose();
    }
}
