using System.Collections.Concurrent;
using CloudMount.Core.Caching;
using CloudMount.Core.Storage;
using CloudMount.Core.Writing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CloudMount.Core.Vfs;

/// <summary>
/// The filesystem view of an object store, free of any platform's types: inode-based operations in the shape
/// of FUSE's lowlevel API (lookup, forget, getattr, readdir, open, read, write, flush, release, ...), taking and
/// returning plain .NET values and throwing <see cref="FileSystemException"/> (or store errors, which
/// <see cref="FileSystemException.Classify"/> maps) for the adapter to turn into errno / NTSTATUS.
/// </summary>
/// <remarks>
/// <para>Behaviour (see DESIGN.md): keys under <see cref="VfsOptions.RootPrefix"/> map to paths; a directory
/// exists when a key has it as a prefix or a <c>dir/</c> marker exists, and mkdir writes the marker; readdir
/// comes from delimiter listings with sizes and dates, so <c>ls -l</c> needs no HEAD; reads are range reads of
/// the ETag seen at open; writes go to a staging file uploaded on flush/close (close-to-open), and a failed
/// upload fails the close and keeps the data. <see cref="KeyNames"/> gives the rule for keys that cannot be paths.</para>
/// <para>Locking: <c>_lock</c> protects the inode table and every inode's metadata fields; it is never held
/// across an await. A file's staging data is guarded by its <see cref="WriteState.Gate"/>, taken before
/// <c>_lock</c> when both are needed.</para>
/// </remarks>
public sealed partial class CloudFileSystem : IAsyncDisposable
{
    /// <summary>The root's inode number (FUSE_ROOT_ID).</summary>
    public const ulong RootIno = 1;

    private readonly IObjectStore _store;
    private readonly VfsOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly StagingArea _staging;
    private readonly Lock _lock = new();
    private readonly Dictionary<ulong, Inode> _inodes = [];
    private readonly ConcurrentDictionary<ulong, FileHandle> _files = new();
    private readonly ConcurrentDictionary<ulong, DirectoryHandle> _dirs = new();
    private readonly Inode _root;
    private readonly MetadataCache _meta;
    private readonly DateTimeOffset _mountTime;
    private int _offlineNoticed;
    private long _nextIno = (long)RootIno + 1;
    private long _nextHandle = 1;

    /// <summary>Creates the view. Nothing is requested from the store until the first operation.</summary>
    /// <param name="store">The (decorated) store.</param>
    /// <param name="options">Mount settings.</param>
    /// <param name="logger">Receives upload failures and skipped keys.</param>
    /// <param name="time">Clock for TTLs; <c>null</c> for the system clock.</param>
    public CloudFileSystem(IObjectStore store, VfsOptions options, ILogger? logger = null, TimeProvider? time = null)
    {
        if (options.RootPrefix.Length > 0 && !options.RootPrefix.EndsWith('/'))
        {
            throw new ArgumentException("RootPrefix must be empty or end with '/'", nameof(options));
        }
        _store = store;
        _options = options;
        _logger = logger ?? NullLogger.Instance;
        _time = time ?? TimeProvider.System;
        _staging = new StagingArea(options.StagingDirectory);
        _meta = new MetadataCache(options.MetadataTtl, options.NegativeTtl, _time);
        _mountTime = _time.GetUtcNow();
        _root = new Inode(RootIno, NodeKind.Directory, null, "") { Lookups = 1, Mtime = _mountTime, Children = [] };
        _inodes[RootIno] = _root;
    }

    /// <summary>The mount's options.</summary>
    public VfsOptions Options => _options;

    /// <summary>Seconds the kernel may cache attributes and entries.</summary>
    public double AttrTimeoutSeconds => _options.MetadataTtl.TotalSeconds;

    /// <summary>Seconds the kernel may cache a negative lookup.</summary>
    public double NegativeTimeoutSeconds => _options.NegativeTtl.TotalSeconds;

    /// <summary>
    /// Set by the adapter: tells the kernel an inode's attributes changed (its size, once a decoded size is
    /// known), so the next stat or read asks again.
    /// </summary>
    public Action<ulong>? InvalidateKernelAttributes { get; set; }

    /// <summary>Inodes currently known (for tests: forget must bring this back down).</summary>
    public int InodeCount
    {
        get { lock (_lock) return _inodes.Count; }
    }

    // ------------------------------------------------------------------ keys and attributes

    /// <summary>The key prefix of a directory (ends in '/' unless it is an empty root prefix).</summary>
    private string DirectoryPrefix(Inode dir)
    {
        lock (_lock) return DirectoryPrefixLocked(dir);
    }

    private string DirectoryPrefixLocked(Inode dir)
    {
        if (dir.Parent is null) return _options.RootPrefix;
        var parts = new Stack<string>();
        for (var n = dir; n.Parent is not null; n = n.Parent) parts.Push(n.Name);
        return _options.RootPrefix + string.Join('/', parts) + "/";
    }

    /// <summary>The object key of a file.</summary>
    private string FileKey(Inode file)
    {
        lock (_lock) return DirectoryPrefixLocked(file.Parent!) + file.Name;
    }

    /// <summary>
    /// What stat shows for a node. A file's size is its staged length while it has local data, else its decoded
    /// size when it is an encoded object whose decoded size is known, else the stored size. Mode, owner and mtime
    /// come from the object's metadata (<see cref="PosixMetadata"/>) when it is known, else from the mount's
    /// options and the object's Last-Modified. Caller holds <c>_lock</c>.
    /// </summary>
    private NodeAttributes AttributesLocked(Inode n)
    {
        if (n.IsDirectory)
        {
            return new NodeAttributes(n.Ino, NodeKind.Directory, 0, n.Mtime, _options.DirectoryMode, _options.Uid, _options.Gid);
        }
        var posix = n.HeadIsCurrent ? PosixMetadata.Parse(n.Head!.Metadata) : default;
        if (n.Write?.Metadata is { } pending) posix = PosixMetadata.Parse(pending);
        long size = n.Write is { } w ? w.Length
            : _options.Decoding is not null && n.Encoding is { } c && c != Codecs.Codec.Identity && n.EncodingETag == n.ETag ? n.DecodedSize ?? n.Size
            : n.Size;
        var mtime = n.Write is { Dirty: true } dw ? dw.Mtime : posix.Mtime ?? n.Mtime;
        uint mode = posix.Permissions ?? (n.Kind == NodeKind.Symlink ? 0x1FF : _options.FileMode);
        return new NodeAttributes(n.Ino, n.Kind, size, mtime, mode, posix.Uid ?? _options.Uid, posix.Gid ?? _options.Gid);
    }

    private EntryReply EntryLocked(Inode n)
    {
        n.Lookups++;
        return new EntryReply(AttributesLocked(n), AttrTimeoutSeconds, AttrTimeoutSeconds);
    }

    private Inode GetInode(ulong ino)
    {
        lock (_lock)
        {
            return _inodes.TryGetValue(ino, out var n) ? n : throw new FileSystemException(FsError.NotFound, $"unknown inode {ino}");
        }
    }

    private Inode GetDirectory(ulong ino)
    {
        var n = GetInode(ino);
        return n.IsDirectory ? n : throw new FileSystemException(FsError.NotDirectory, $"inode {ino} is not a directory");
    }

    private void ThrowIfReadOnly()
    {
        if (_options.ReadOnly)
        {
            throw new FileSystemException(FsError.ReadOnly, "read-only mount");
        }
    }

    /// <summary>
    /// Returns the child inode for <paramref name="name"/>, creating or updating it from <paramref name="entry"/>.
    /// A kind change (a file became a directory) gives a new inode. Caller holds <c>_lock</c>.
    /// </summary>
    private Inode UpsertChildLocked(Inode dir, string name, ChildEntry entry)
    {
        dir.Children ??= [];
        if (dir.Children.TryGetValue(name, out var child) && child.Kind == entry.Kind)
        {
            if (child.Write is null && !child.LocalOnly)
            {
                if (entry.Head is null && child.Head is { } known && !entry.Matches(known)) child.Head = null;
                if (child.ETag != entry.ETag) child.SymlinkTarget = null;
                child.Size = entry.Size;
                child.ETag = entry.ETag;
                child.Mtime = entry.Mtime;
                if (child.EncodingETag != entry.ETag)
                {
                    child.Encoding = null;
                    child.DecodedSize = null;
                }
                LearnLocked(child, entry);
            }
            return child;
        }
        if (child is not null)
        {
            DetachLocked(child);
        }
        var created = new Inode((ulong)Interlocked.Increment(ref _nextIno) - 1, entry.Kind, dir, name)
        {
            Size = entry.Size,
            ETag = entry.ETag,
            Mtime = entry.Mtime,
        };
        if (entry.Kind == NodeKind.Directory)
        {
            created.Children = [];
        }
        LearnLocked(created, entry);
        dir.Children[name] = created;
        _inodes[created.Ino] = created;
        return created;
    }

    /// <summary>Takes what a HEAD told about an entry (metadata, encoding, decoded size) into its inode. Caller holds <c>_lock</c>.</summary>
    private static void LearnLocked(Inode n, ChildEntry entry)
    {
        if (entry.Head is not { } head) return;
        n.Head = head;
        n.Encoding = Codecs.ContentCodec.Parse(head.ContentEncoding);
        n.EncodingETag = head.ETag;
        if (entry.DecodedSize is { } decoded) n.DecodedSize = decoded;
    }

    /// <summary>Unhooks an inode from its name; it lives on while the kernel holds it. Caller holds <c>_lock</c>.</summary>
    private void DetachLocked(Inode n)
    {
        if (n.Parent?.Children is { } siblings && siblings.TryGetValue(n.Name, out var current) && current == n)
        {
            siblings.Remove(n.Name);
        }
        n.Detached = true;
        if (n.Lookups <= 0 && n.OpenCount == 0)
        {
            _inodes.Remove(n.Ino);
        }
    }

    /// <summary>Records a local change of one name in the metadata cache. Caller holds <c>_lock</c>.</summary>
    private void SetListingEntryLocked(Inode dir, string name, ChildEntry? entry)
    {
        string prefix = DirectoryPrefixLocked(dir);
        _meta.UpdateListingEntry(prefix, name, entry);
        if (entry is { } e)
        {
            _meta.SetObject(prefix + name, e);
        }
        else
        {
            _meta.SetMissing(prefix + name);
        }
    }

    /// <summary>True when the store could not be reached (after retries), so cached metadata may stand in.</summary>
    private static bool IsUnreachable(Exception e) => e is StoreUnavailableException or ConnectionFailedException;

    private void NoticeOffline(Exception e)
    {
        if (Interlocked.Exchange(ref _offlineNoticed, 1) == 0)
        {
            _logger.LogWarning("{Store} unreachable ({Error}): serving cached metadata", _store.Name, e.Message);
        }
    }

    /// <summary>True when a file's attributes are fresh: a fresh lookup/HEAD of its key, or a fresh listing naming it.</summary>
    private bool IsFreshLocked(Inode n)
    {
        if (n.Parent is not { } p) return true;
        string prefix = DirectoryPrefixLocked(p);
        return _meta.TryGetObject(prefix + n.Name, allowStale: false, out _)
            || (_meta.TryGetListing(prefix, allowStale: false, out var listing) && listing.ContainsKey(n.Name));
    }

    // ------------------------------------------------------------------ lookup, forget, getattr

    /// <summary>Looks up <paramref name="name"/> in directory <paramref name="parent"/> and takes one lookup reference on it.</summary>
    /// <exception cref="FileSystemException">NotFound (a negative entry the kernel may cache for <see cref="NegativeTimeoutSeconds"/>), NotDirectory, NameTooLong.</exception>
    public async ValueTask<EntryReply> LookupAsync(ulong parent, string name, CancellationToken cancellationToken)
    {
        var dir = GetDirectory(parent);
        if (System.Text.Encoding.UTF8.GetByteCount(name) > KeyNames.NameMax)
        {
            throw new FileSystemException(FsError.NameTooLong, "name too long");
        }
        if (!KeyNames.IsValidName(name))
        {
            throw new FileSystemException(FsError.NotFound, $"'{name}' is not a valid name");
        }
        lock (_lock)
        {
            if (TryLookupCachedLocked(dir, name, out var cached))
            {
                return cached is null ? throw NotFound(name) : EntryLocked(cached);
            }
        }
        string prefix = DirectoryPrefix(dir);
        bool relist;
        lock (_lock) relist = _meta.TryGetListing(prefix, allowStale: true, out var stale) && stale.Count < 1000;
        ChildEntry? found;
        try
        {
            if (relist)
            {
                // The directory was listed before and fits in one page: one LIST refreshes every name in it for
                // the price of checking this one (reading many files after the TTL costs one LIST, not one each).
                var entries = await GetListingAsync(dir, cancellationToken).ConfigureAwait(false);
                found = entries.TryGetValue(name, out var e) ? e : null;
            }
            else
            {
                found = await ResolveChildAsync(prefix, name, cancellationToken).ConfigureAwait(false);
                if (found is { Kind: NodeKind.File } listed)
                {
                    ChildEntry? known = null;
                    lock (_lock)
                    {
                        if (dir.Children?.TryGetValue(name, out var c) == true && c.Head is { } h && listed.Matches(h))
                        {
                            known = listed with { Kind = c.Kind, Head = h, DecodedSize = c.DecodedSize };
                        }
                    }
                    if (known is not null)
                    {
                        found = known;
                    }
                    else if (ExactAttributes)
                    {
                        found = await HeadEntryAsync(prefix + name, cancellationToken).ConfigureAwait(false);
                    }
                }
            }
        }
        catch (Exception e) when (IsUnreachable(e))
        {
            lock (_lock)
            {
                if (TryLookupStaleLocked(dir, prefix, name, out var stale))
                {
                    NoticeOffline(e);
                    return stale is null ? throw NotFound(name) : EntryLocked(stale);
                }
            }
            throw;
        }
        lock (_lock)
        {
            // A local change may have raced with the request; local state wins.
            if (dir.Children?.TryGetValue(name, out var local) == true && (local.LocalOnly || local.Write is not null))
            {
                return EntryLocked(local);
            }
            if (found is not { } entry)
            {
                _meta.SetMissing(prefix + name);
                if (dir.Children?.TryGetValue(name, out var gone) == true)
                {
                    DetachLocked(gone);
                }
                throw NotFound(name);
            }
            _meta.SetObject(prefix + name, entry);
            return EntryLocked(UpsertChildLocked(dir, name, entry));
        }
    }

    /// <summary>Answers a lookup from metadata of any age (the store is unreachable). Caller holds <c>_lock</c>.</summary>
    private bool TryLookupStaleLocked(Inode dir, string prefix, string name, out Inode? result)
    {
        if (_meta.TryGetListing(prefix, allowStale: true, out var listing))
        {
            result = listing.TryGetValue(name, out var e) ? UpsertChildLocked(dir, name, e) : null;
            return true;
        }
        if (_meta.TryGetObject(prefix + name, allowStale: true, out var o))
        {
            result = UpsertChildLocked(dir, name, o);
            return true;
        }
        result = null;
        return false;
    }

    private static FileSystemException NotFound(string name) => new(FsError.NotFound, $"no such file or directory: {name}");

    /// <summary>
    /// Answers a lookup from memory when possible: a child with local state or fresh attributes, a fresh
    /// listing, or a fresh negative entry. <paramref name="result"/> is <c>null</c> for "known not to exist".
    /// </summary>
    private bool TryLookupCachedLocked(Inode dir, string name, out Inode? result)
    {
        if (dir.Children?.TryGetValue(name, out var child) == true && (child.LocalOnly || child.Write is not null || IsFreshLocked(child)))
        {
            result = child;
            return true;
        }
        string prefix = DirectoryPrefixLocked(dir);
        if (_meta.TryGetListing(prefix, allowStale: false, out var listing))
        {
            result = listing.TryGetValue(name, out var e) ? UpsertChildLocked(dir, name, e) : null;
            return true;
        }
        if (_meta.IsKnownMissing(prefix + name))
        {
            result = null;
            return true;
        }
        if (_meta.TryGetObject(prefix + name, allowStale: false, out var o))
        {
            result = UpsertChildLocked(dir, name, o);
            return true;
        }
        result = null;
        return false;
    }

    /// <summary>
    /// Finds out what <c>prefix + name</c> is with one LIST (prefix = the key, delimiter '/'): the object itself
    /// and the common prefix <c>key/</c> both show up in it, so no HEAD and no second spelling is needed.
    /// </summary>
    private async Task<ChildEntry?> ResolveChildAsync(string dirPrefix, string name, CancellationToken ct)
    {
        string key = dirPrefix + name;
        string asDir = key + "/";
        ChildEntry? file = null;
        string? token = null;
        do
        {
            var page = await _store.ListAsync(new ListRequest(key, "/", token), ct).ConfigureAwait(false);
            bool passed = false;
            foreach (var p in page.CommonPrefixes)
            {
                if (p == asDir)
                {
                    return new ChildEntry(NodeKind.Directory, 0, null, _mountTime);
                }
                passed |= KeyComparer.Instance.Compare(p, asDir) > 0;
            }
            foreach (var o in page.Objects)
            {
                if (o.Key == key)
                {
                    file = new ChildEntry(NodeKind.File, o.Size, o.ETag, o.LastModified);
                }
                passed |= KeyComparer.Instance.Compare(o.Key, asDir) > 0;
            }
            token = passed ? null : page.NextPageToken;
        }
        while (token is not null);
        return file;
    }

    /// <summary>Drops <paramref name="count"/> lookup references; at zero the inode is forgotten unless it holds unsaved data.</summary>
    public void Forget(ulong ino, ulong count)
    {
        lock (_lock)
        {
            if (ino == RootIno || !_inodes.TryGetValue(ino, out var n)) return;
            n.Lookups -= (long)count;
            if (n.Lookups > 0 || n.OpenCount > 0 || n.Write is not null) return;
            _inodes.Remove(ino);
            if (!n.Detached && n.Parent?.Children is { } siblings && siblings.TryGetValue(n.Name, out var c) && c == n)
            {
                siblings.Remove(n.Name);
            }
        }
    }

    /// <summary>Returns attributes, asking the store (HEAD) when a closed file's cached attributes have expired.</summary>
    /// <exception cref="FileSystemException">NotFound when the object is gone.</exception>
    public async ValueTask<NodeAttributes> GetAttrAsync(ulong ino, CancellationToken cancellationToken)
    {
        var n = GetInode(ino);
        lock (_lock)
        {
            // An open file's version is pinned until it is closed (close-to-open), so the kernel's periodic
            // revalidation during long reads needs no HEAD.
            if (n.IsDirectory || n.Write is not null || n.LocalOnly || n.Detached || n.OpenCount > 0 || IsFreshLocked(n))
            {
                return AttributesLocked(n);
            }
        }
        await RefreshFileAsync(n, cancellationToken).ConfigureAwait(false);
        lock (_lock) return AttributesLocked(n);
    }

    /// <summary>
    /// HEADs a file's object and updates its attributes and metadata; while the store is unreachable, keeps the
    /// known ones. An object that turned into a symlink (or back) loses this inode's name: the next lookup makes
    /// a new inode of the right type.
    /// </summary>
    private async Task RefreshFileAsync(Inode n, CancellationToken ct)
    {
        string key = FileKey(n);
        ObjectInfo? info;
        long? decoded = null;
        try
        {
            info = await _store.HeadAsync(key, ct).ConfigureAwait(false);
            if (info is not null) decoded = await ProbeDecodedSizeAsync(info, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (IsUnreachable(e))
        {
            NoticeOffline(e);
            return;
        }
        lock (_lock)
        {
            if (n.Write is not null || n.LocalOnly) return;
            if (info is null)
            {
                if (n.Parent is { } p && !n.Detached)
                {
                    SetListingEntryLocked(p, n.Name, null);
                    DetachLocked(n);
                }
                throw NotFound(n.Name);
            }
            var entry = EntryFromHead(info, decoded);
            if (n.EncodingETag != info.ETag) n.DecodedSize = null;
            if (n.ETag != info.ETag) n.SymlinkTarget = null;
            n.Size = info.Size;
            n.ETag = info.ETag;
            n.Mtime = info.LastModified;
            LearnLocked(n, entry);
            if (n.Parent is { } parent && !n.Detached)
            {
                if (entry.Kind != n.Kind)
                {
                    DetachLocked(n);
                }
                SetListingEntryLocked(parent, n.Name, entry);
            }
            else
            {
                _meta.SetObject(key, entry);
            }
        }
    }

    /// <summary>Totals for statfs: object stores have no fixed capacity, so these are large constants.</summary>
    public static FsStatistics StatFs() => new(4096, 1UL << 38, 1UL << 38, 1UL << 32, 1UL << 32, KeyNames.NameMax);

    /// <summary>Cancels read-ahead, closes staging files (keeping those with unsaved data) and removes an empty staging folder.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var h in _files.Values)
        {
            if (h.Reader is { } r) await r.DisposeAsync().ConfigureAwait(false);
        }
        _files.Clear();
        List<Inode> pending;
        lock (_lock) pending = _inodes.Values.Where(i => i.Write is not null).ToList();
        foreach (var n in pending)
        {
            var w = n.Write!;
            if (w.Session is { } session)
            {
                w.Session = null;
                await session.AbortAsync().ConfigureAwait(false);
            }
            if (w.Dirty)
            {
                _logger.LogError("unmounting with {Key} not uploaded; its data is kept in {Path}", FileKey(n), w.File.Path);
                w.File.WriteSidecar(_store.Name, FileKey(n), "not uploaded at unmount", w.RemoteETag);
                w.File.Close(delete: false);
            }
            else
            {
                w.File.Close(delete: true);
            }
        }
        _staging.Dispose();
        _meta.Dispose();
    }
}
