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
    private readonly Dictionary<string, Entry> _entries = [];          // by version id
    private readonly Dictionary<(string Store, string Key), string> _current = []; // newest id per object
    private long _usedBytes;

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

    private sealed class Entry(ObjectVersion version, string dataPath, string metaPath, bool[] blocks, DateTimeOffset lastAccess, string? encoding)
    {
        /// <summary>The stored object's Content-Encoding ("" for none): cached bytes are stored bytes.</summary>
        public string? Encoding = encoding;
        public readonly Lock Sync = new();
        public ObjectVersion Version { get; } = version;
        public string DataPath { get; } = dataPath;
        public string MetaPath { get; } = metaPath;
        public bool[] Blocks { get; } = blocks;
        public DateTimeOffset LastAccess = lastAccess;
        /// <summary>Buffered handle, for I/O that is not aligned.</summary>
        public SafeFileHandle? Handle;
        /// <summary>O_DIRECT handle, for aligned I/O (null until opened, or where the filesystem refuses it).</summary>
        public SafeFileHandle? Direct;
        public bool DirectRefused;
        public bool Evicted;

        public SafeFileHandle BufferedHandle() =>
            Handle ??= File.OpenHandle(DataPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);

        /// <summary>The direct handle when <paramref name="span"/> may use it.</summary>
        public SafeFileHandle? DirectHandleFor(ReadOnlySpan<byte> span)
        {
            if (DirectRefused || !BufferPool.IsAligned(span) || span.Length % BufferPool.Alignment != 0) return null;
            Direct ??= DirectFile.TryOpen(DataPath);
            DirectRefused = Direct is null;
            return Direct;
        }

        public void CloseHandles()
        {
            Handle?.Dispose();
            Handle = null;
            Direct?.Dispose();
            Direct = null;
        }
        /// <summary>Blocks written to the data file but not yet flushed and claimed.</summary>
        public readonly HashSet<long> Pending = [];

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

    private sealed record Meta(
        [property: JsonPropertyName("store")] string Store,
        [property: JsonPropertyName("key")] string Key,
        [property: JsonPropertyName("etag")] string ETag,
        [property: JsonPropertyName("size")] long Size,
        [property: JsonPropertyName("lastAccess")] DateTimeOffset LastAccess,
        [property: JsonPropertyName("blocks")] string Blocks,
        [property: JsonPropertyName("encoding")] string? Encoding = null);

    private static string EncodeBits(bool[] bits)
    {
        var bytes = new byte[(bits.Length + 7) / 8];
        for (int i = 0; i < bits.Length; i++)
        {
            if (bits[i]) bytes[i / 8] |= (byte)(1 << (i % 8));
        }
        return Convert.ToBase64String(bytes);
    }

    private static bool[] DecodeBits(string text, long count)
    {
        var bytes = Convert.FromBase64String(text);
        var bits = new bool[count];
        for (int i = 0; i < count && i / 8 < bytes.Length; i++)
        {
            bits[i] = (bytes[i / 8] & (1 << (i % 8))) != 0;
        }
        return bits;
    }

    private void LoadIndex()
    {
        foreach (var meta in System.IO.Directory.EnumerateFiles(_root, "*.meta", SearchOption.AllDirectories))
        {
            try
            {
                var m = JsonSerializer.Deserialize(File.ReadAllText(meta), MetaJson.Default.Meta)!;
                var v = new ObjectVersion(m.Store, m.Key, m.ETag, m.Size);
                string data = Path.ChangeExtension(meta, ".data");
                if (!File.Exists(data) || v.Id != Path.GetFileNameWithoutExtension(meta))
                {
                    File.Delete(meta);
                    continue;
                }
                var e = new Entry(v, data, meta, DecodeBits(m.Blocks, v.BlockCount), m.LastAccess, m.Encoding);
                AddLocked(e);
            }
            catch (Exception ex) when (ex is JsonException or IOException or FormatException or NullReferenceException)
            {
                _logger.LogWarning("dropping unreadable cache record {Path}: {Error}", meta, ex.Message);
                File.Delete(meta);
            }
        }
        // Data files without a record hold nothing claimed: remove them.
        foreach (var data in System.IO.Directory.EnumerateFiles(_root, "*.data", SearchOption.AllDirectories))
        {
            if (!File.Exists(Path.ChangeExtension(data, ".meta"))) File.Delete(data);
        }
    }

    private void AddLocked(Entry e)
    {
        _entries[e.Version.Id] = e;
        _usedBytes += e.PresentBytes();
        var k = (e.Version.Store, e.Version.Key);
        if (!_current.TryGetValue(k, out var id) || _entries[id].LastAccess < e.LastAccess)
        {
            _current[k] = e.Version.Id;
        }
    }

    private Entry? Find(in ObjectVersion v)
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
    /// An aligned destination whose array has room for the length rounded up to 4,096 is read with direct I/O.
    /// </summary>
    public bool TryRead(in ObjectVersion v, long block, ArraySegment<byte> destination)
    {
        var e = Find(v);
        if (e is null) return false;
        lock (e.Sync)
        {
            // Pending blocks are on the data file already (this process wrote them); only the record waits.
            if (e.Evicted || block >= e.Blocks.Length || !(e.Blocks[block] || e.Pending.Contains(block))) return false;
            int length = v.BlockLength(block);
            long offset = block * ObjectVersion.BlockSize;
            try
            {
                int rounded = BufferPool.RoundUp(length);
                var wide = destination.Offset + rounded <= destination.Array!.Length
                    ? new Span<byte>(destination.Array, destination.Offset, rounded) : Span<byte>.Empty;
                var handle = wide.IsEmpty ? null : e.DirectHandleFor(wide);
                var target = handle is null ? destination.AsSpan(0, length) : wide;
                handle ??= e.BufferedHandle();
                int total = 0;
                while (total < length)
                {
                    int n = RandomAccess.Read(handle, target[total..], offset + total);
                    if (n == 0) return false;
                    total += n;
                }
                e.LastAccess = DateTimeOffset.UtcNow;
                return true;
            }
            catch (IOException ex)
            {
                _logger.LogWarning("disk cache read of {Key} failed: {Error}", v.Key, ex.Message);
                return false;
            }
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
        if (CapacityBytes <= 0 || v.Size <= 0) return null;
        Entry e;
        lock (_lock)
        {
            if (!_entries.TryGetValue(v.Id, out e!) || e.Evicted)
            {
                string dir = Path.Combine(_root, v.Id[..2]);
                System.IO.Directory.CreateDirectory(dir);
                e = new Entry(v, Path.Combine(dir, v.Id + ".data"), Path.Combine(dir, v.Id + ".meta"), new bool[v.BlockCount], DateTimeOffset.UtcNow, encoding ?? "");
                _entries[v.Id] = e;
            }
            // The newest version of a key replaces older ones.
            if (_current.TryGetValue((v.Store, v.Key), out var old) && old != v.Id && _entries.TryGetValue(old, out var oldEntry))
            {
                EvictLocked(oldEntry);
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
                if (!wide.IsEmpty && e.DirectHandleFor(wide) is { } direct)
                {
                    RandomAccess.Write(direct, wide, firstBlock * ObjectVersion.BlockSize);
                }
                else
                {
                    RandomAccess.Write(e.BufferedHandle(), data.AsSpan(), firstBlock * ObjectVersion.BlockSize);
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
        Entry? e;
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
                RandomAccess.FlushToDisk(e.Direct ?? e.BufferedHandle());
                foreach (long b in e.Pending)
                {
                    if (!e.Blocks[b])
                    {
                        e.Blocks[b] = true;
                        added += e.Version.BlockLength(b);
                    }
                }
                e.Pending.Clear();
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

    private static void SaveMeta(Entry e)
    {
        var m = new Meta(e.Version.Store, e.Version.Key, e.Version.ETag, e.Version.Size, e.LastAccess, EncodeBits(e.Blocks), e.Encoding);
        string tmp = e.MetaPath + ".tmp";
        File.WriteAllText(tmp, JsonSerializer.Serialize(m, MetaJson.Default.Meta));
        File.Move(tmp, e.MetaPath, overwrite: true);
    }

    private void EvictLeastRecentlyUsedLocked(long target, Entry? keep)
    {
        foreach (var victim in _entries.Values.Where(x => !x.Evicted && x != keep).OrderBy(x => x.LastAccess).ToList())
        {
            if (_usedBytes <= target) break;
            EvictLocked(victim);
        }
    }

    private void EvictLocked(Entry e)
    {
        lock (e.Sync)
        {
            if (e.Evicted) return;
            e.Evicted = true;
            _usedBytes -= e.PresentBytes();
            e.CloseHandles();
            File.Delete(e.MetaPath);
            File.Delete(e.DataPath);
        }
        _entries.Remove(e.Version.Id);
        if (_current.TryGetValue((e.Version.Store, e.Version.Key), out var id) && id == e.Version.Id)
        {
            _current.Remove((e.Version.Store, e.Version.Key));
        }
    }

    /// <summary>One cached object version, for <c>cloudmount cache list</c>.</summary>
    /// <param name="Version">Store, key, ETag and size.</param>
    /// <param name="CachedBytes">Bytes present.</param>
    /// <param name="LastAccess">When it was last read or written.</param>
    public sealed record CacheEntryInfo(ObjectVersion Version, long CachedBytes, DateTimeOffset LastAccess);

    /// <summary>
    /// Reads the records of a cache folder without opening it (a running mount may hold it): what a
    /// <c>cloudmount cache list</c> shows. Unreadable records are skipped.
    /// </summary>
    public static IReadOnlyList<CacheEntryInfo> Inspect(string directory)
    {
        var result = new List<CacheEntryInfo>();
        string root = Path.Combine(directory, "data");
        if (!System.IO.Directory.Exists(root)) return result;
        foreach (var meta in System.IO.Directory.EnumerateFiles(root, "*.meta", SearchOption.AllDirectories))
        {
            try
            {
                var m = JsonSerializer.Deserialize(File.ReadAllText(meta), MetaJson.Default.Meta)!;
                var v = new ObjectVersion(m.Store, m.Key, m.ETag, m.Size);
                var bits = DecodeBits(m.Blocks, v.BlockCount);
                long bytes = 0;
                for (long b = 0; b < bits.Length; b++) if (bits[b]) bytes += v.BlockLength(b);
                result.Add(new CacheEntryInfo(v, bytes, m.LastAccess));
            }
            catch (Exception e) when (e is JsonException or IOException or FormatException or NullReferenceException)
            {
                // Skipped: the owning mount drops it when it next opens the cache.
            }
        }
        return result.OrderByDescending(e => e.LastAccess).ToList();
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
                    try
                    {
                        if (File.Exists(e.MetaPath)) SaveMeta(e);
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
