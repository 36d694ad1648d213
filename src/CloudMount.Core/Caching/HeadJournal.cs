using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using CloudMount.Core.Storage;

namespace CloudMount.Core.Caching;

/// <summary>
/// What HEADs and our own writes told about objects' metadata (POSIX mode, owner, times, symlink kind), kept on
/// disk beside the data cache so that a new mount on the same cache folder knows it without a HEAD: S3 and Swift
/// listings carry no metadata, so without it a remount shows symlinks as files and every file with the default
/// mode until it is opened. An entry is used only for the exact version it describes: the listing's ETag must be
/// the recorded one (and the caller checks Last-Modified), so another client's change is never hidden.
/// </summary>
/// <remarks>
/// One file per store, <c>heads/&lt;id&gt;.jsonl</c> in the cache folder, one JSON object per line, appended as
/// heads are learnt (a torn last line after a crash is skipped); rewritten compactly, at open or later, once it holds
/// more than twice the live entries (plus 10,000 lines). At most <see cref="Capacity"/> entries; beyond that some
/// are dropped (whichever the dictionary enumerates first), which costs only a HEAD or a default later. Only a mount
/// that owns the cache folder (its <see cref="DiskCache"/> lock) opens one.
/// </remarks>
public sealed partial class HeadJournal : IDisposable
{
    /// <summary>Most entries kept (about 200 bytes each in memory).</summary>
    public const int Capacity = 500_000;

    private readonly string _path;
    private readonly object _sync = new();

    // Guarded by _sync: the live entries by key (insertion order: the oldest first), the append stream and the
    // number of lines it holds (live or superseded).
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private FileStream? _out;
    private long _lines;

    private HeadJournal(string path) => _path = path;

    /// <summary>Opens (or creates) the journal of <paramref name="store"/> in <paramref name="cacheDirectory"/>.</summary>
    /// <param name="cacheDirectory">The disk cache's folder (owned by this mount).</param>
    /// <param name="store">The store's name, for example <c>s3://bucket</c>.</param>
    /// <exception cref="IOException">The folder cannot be written.</exception>
    public static HeadJournal Open(string cacheDirectory, string store)
    {
        string dir = Path.Combine(cacheDirectory, "heads");
        Directory.CreateDirectory(dir);
        string id = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(store)))[..24];
        var j = new HeadJournal(Path.Combine(dir, id + ".jsonl"));
        j.Load();
        lock (j._sync)
        {
            if (j.NeedsCompactionLocked) j.RewriteLocked();
            else j.OpenAppendLocked();
        }
        return j;
    }

    /// <summary>Entries held now.</summary>
    public int Count
    {
        get { lock (_sync) return _entries.Count; }
    }

    /// <summary>The head recorded for <paramref name="key"/> at version <paramref name="etag"/>, or <c>null</c>.</summary>
    public ObjectInfo? TryGet(string key, string? etag)
    {
        if (etag is null) return null;
        lock (_sync)
        {
            return _entries.TryGetValue(key, out var e) && e.E == etag ? e.ToInfo() : null;
        }
    }

    /// <summary>
    /// The marker head recorded for directory key <paramref name="markerKey"/> (ending in <c>/</c>), or <c>null</c>.
    /// A listing names a directory without its marker's ETag, so this one is taken by key: a marker another client
    /// changed shows its old mode until the marker is HEADed (<c>--exact-attrs</c>) or changed through this mount.
    /// </summary>
    public ObjectInfo? TryGetMarker(string markerKey)
    {
        lock (_sync)
        {
            return _entries.TryGetValue(markerKey, out var e) ? e.ToInfo() : null;
        }
    }

    /// <summary>
    /// Records a head that carries metadata (a HEAD's answer, our own upload or metadata change; a directory's
    /// marker under its key ending in <c>/</c>); heads without an ETag or metadata, and encoded objects (whose decoded size is not kept here), are not recorded. Never throws:
    /// a journal that cannot be written is dropped for the rest of the mount.
    /// </summary>
    public void Remember(ObjectInfo head)
    {
        if (head.ETag is null || head.Metadata is not { Count: > 0 } || !string.IsNullOrEmpty(head.ContentEncoding)) return;
        var e = Entry.From(head);
        lock (_sync)
        {
            if (_entries.TryGetValue(head.Key, out var old) && old.SameAs(e)) return;
            _entries.Remove(head.Key);
            _entries[head.Key] = e;
            while (_entries.Count > Capacity) _entries.Remove(_entries.Keys.First());
            AppendLocked(e);
            if (NeedsCompactionLocked) RewriteLocked();
        }
    }

    /// <summary>Forgets what is recorded for <paramref name="key"/> (the object or marker is gone).</summary>
    public void Forget(string key)
    {
        lock (_sync)
        {
            if (!_entries.Remove(key)) return;
            AppendLocked(new Entry(key, "", 0, 0, null, []));
        }
    }

    private bool NeedsCompactionLocked => _lines > 2L * _entries.Count + 10_000;

    private void Load()
    {
        if (!File.Exists(_path)) return;
        foreach (var line in File.ReadLines(_path))
        {
            _lines++;
            try
            {
                if (JsonSerializer.Deserialize(line, HeadJson.Default.Entry) is { K.Length: > 0 } e)
                {
                    _entries.Remove(e.K);
                    if (e.E.Length > 0) _entries[e.K] = e; // an empty ETag is a Forget
                }
            }
            catch (JsonException)
            {
                // a line torn by a crash: skip it
            }
        }
        while (_entries.Count > Capacity) _entries.Remove(_entries.Keys.First());
    }

    private void AppendLocked(Entry e)
    {
        if (_out is null) return;
        try
        {
            // Buffered (no write per line, this runs under the Vfs's table lock): a crash loses the last few lines,
            // which only means a HEAD more after the next mount; a torn line is skipped when loading.
            _out.Write(JsonSerializer.SerializeToUtf8Bytes(e, HeadJson.Default.Entry));
            _out.WriteByte((byte)'\n');
            _lines++;
        }
        catch (IOException)
        {
            DropLocked();
        }
    }

    /// <summary>Writes the live entries to a new file and renames it over the journal (atomic on POSIX).</summary>
    private void RewriteLocked()
    {
        _out?.Dispose();
        _out = null;
        string tmp = _path + ".tmp";
        try
        {
            using (var f = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
            {
                foreach (var e in _entries.Values)
                {
                    f.Write(JsonSerializer.SerializeToUtf8Bytes(e, HeadJson.Default.Entry));
                    f.WriteByte((byte)'\n');
                }
            }
            File.Move(tmp, _path, overwrite: true);
            _lines = _entries.Count;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            DropLocked();
            return;
        }
        OpenAppendLocked();
    }

    private void OpenAppendLocked()
    {
        try
        {
            _out = new FileStream(_path, FileMode.Append, FileAccess.Write, FileShare.Read, 1 << 16);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            DropLocked();
        }
    }

    private void DropLocked()
    {
        _out?.Dispose();
        _out = null;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        lock (_sync) DropLocked();
    }

    /// <summary>One recorded head: key, ETag, size, Last-Modified (Unix ms), Content-Type, metadata.</summary>
    internal sealed record Entry(string K, string E, long S, long T, string? C, Dictionary<string, string> M)
    {
        public static Entry From(ObjectInfo h) =>
            new(h.Key, h.ETag!, h.Size, h.LastModified.ToUnixTimeMilliseconds(), h.ContentType, new Dictionary<string, string>(h.Metadata!, StringComparer.Ordinal));

        public ObjectInfo ToInfo() => new(K, S, E, DateTimeOffset.FromUnixTimeMilliseconds(T)) { ContentType = C, Metadata = M };

        public bool SameAs(Entry o) =>
            E == o.E && S == o.S && T == o.T && C == o.C && M.Count == o.M.Count && M.All(kv => o.M.TryGetValue(kv.Key, out var v) && v == kv.Value);
    }

    /// <summary>Source-generated JSON for <see cref="Entry"/> (trim- and NativeAOT-safe).</summary>
    [JsonSerializable(typeof(Entry))]
    internal sealed partial class HeadJson : JsonSerializerContext;
}
