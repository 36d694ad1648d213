using CloudMount.Core.Storage;
using Microsoft.Extensions.Logging;

namespace CloudMount.Core.Vfs;

public sealed partial class CloudFileSystem
{
    /// <summary>Opens a directory for readdir.</summary>
    /// <returns>The directory handle.</returns>
    /// <exception cref="FileSystemException">NotDirectory.</exception>
    public ulong OpenDir(ulong ino)
    {
        var dir = GetDirectory(ino);
        ulong fh = (ulong)Interlocked.Increment(ref _nextHandle);
        _dirs[fh] = new DirectoryHandle(dir);
        return fh;
    }

    /// <summary>Closes a directory handle.</summary>
    public void ReleaseDir(ulong fh) => _dirs.TryRemove(fh, out _);

    /// <summary>
    /// Fills a readdir reply from <paramref name="offset"/>: entries <c>.</c> and <c>..</c>, then the children in
    /// byte order. The first call lists the directory (one LIST per 1,000 entries, or none while an earlier
    /// listing is fresh) and keeps a snapshot in the handle, so later offsets stay stable. With
    /// <paramref name="plus"/>, each entry the filler accepts (other than <c>.</c> and <c>..</c>) takes one
    /// lookup reference, as readdirplus requires.
    /// </summary>
    /// <exception cref="FileSystemException">BadHandle for an unknown handle.</exception>
    public async ValueTask ReadDirAsync(ulong ino, ulong fh, long offset, bool plus, DirectoryFiller filler, CancellationToken cancellationToken)
    {
        if (!_dirs.TryGetValue(fh, out var h))
        {
            throw new FileSystemException(FsError.BadHandle, $"unknown directory handle {fh}");
        }
        var snapshot = h.Snapshot;
        if (snapshot is null || offset == 0)
        {
            await h.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                if (h.Snapshot is null || offset == 0)
                {
                    h.Snapshot = await TakeSnapshotAsync(h.Directory, cancellationToken).ConfigureAwait(false);
                }
                snapshot = h.Snapshot;
            }
            finally
            {
                h.Gate.Release();
            }
        }
        lock (_lock)
        {
            var dir = h.Directory;
            for (long i = offset; i < snapshot.Length; i++)
            {
                var e = snapshot[i];
                NodeAttributes attrs;
                Inode? child = null;
                if (e.Child is { } c)
                {
                    if (plus)
                    {
                        child = dir.Children?.TryGetValue(e.Name, out var existing) == true && (existing.LocalOnly || existing.Write is not null) && existing.Kind == c.Kind
                            ? existing
                            : UpsertChildLocked(dir, e.Name, c);
                        attrs = AttributesLocked(child);
                    }
                    else
                    {
                        ulong known = dir.Children?.TryGetValue(e.Name, out var k) == true ? k.Ino : StableIno(dir.Ino, e.Name);
                        attrs = new NodeAttributes(known, c.Kind, c.Size, c.Mtime, c.Kind == NodeKind.Directory ? _options.DirectoryMode : _options.FileMode, _options.Uid, _options.Gid);
                    }
                }
                else
                {
                    attrs = new NodeAttributes(e.FixedIno, NodeKind.Directory, 0, _mountTime, _options.DirectoryMode, _options.Uid, _options.Gid);
                }
                if (!filler(new DirectoryEntry(e.Name, attrs, i + 1)))
                {
                    return;
                }
                if (child is not null)
                {
                    child.Lookups++;
                }
            }
        }
    }

    /// <summary>An inode number for plain readdir entries the kernel has not looked up (informational only).</summary>
    private static ulong StableIno(ulong parent, string name) =>
        (uint)HashCode.Combine(parent, name) | (1UL << 62);

    private async Task<SnapshotEntry[]> TakeSnapshotAsync(Inode dir, CancellationToken ct)
    {
        var listing = await GetListingAsync(dir, ct).ConfigureAwait(false);
        lock (_lock)
        {
            var entries = new Dictionary<string, ChildEntry>(listing, StringComparer.Ordinal);
            // Files created here and not yet uploaded, or with newer local data, show as they are locally.
            if (dir.Children is { } children)
            {
                foreach (var (name, child) in children)
                {
                    if (child.LocalOnly || child.Write is not null)
                    {
                        var a = AttributesLocked(child);
                        entries[name] = new ChildEntry(child.Kind, a.Size, child.ETag, a.Mtime);
                    }
                }
            }
            var names = entries.Keys.ToList();
            names.Sort(KeyComparer.Instance);
            var result = new SnapshotEntry[names.Count + 2];
            result[0] = new SnapshotEntry(".", NodeKind.Directory, null, dir.Ino);
            result[1] = new SnapshotEntry("..", NodeKind.Directory, null, dir.Parent?.Ino ?? RootIno);
            for (int i = 0; i < names.Count; i++)
            {
                result[i + 2] = new SnapshotEntry(names[i], entries[names[i]].Kind, entries[names[i]], 0);
            }
            return result;
        }
    }

    /// <summary>
    /// Returns the directory's entries: from the metadata cache while fresh, otherwise with LIST requests; while
    /// the store is unreachable, from the cache whatever its age.
    /// </summary>
    private async Task<Dictionary<string, ChildEntry>> GetListingAsync(Inode dir, CancellationToken ct)
    {
        string prefix = DirectoryPrefix(dir);
        lock (_lock)
        {
            if (_meta.TryGetListing(prefix, allowStale: false, out var fresh))
            {
                return fresh;
            }
        }
        Dictionary<string, ChildEntry> entries;
        try
        {
            entries = await ListDirectoryAsync(prefix, ct).ConfigureAwait(false);
            Dictionary<string, ChildEntry>? previous;
            lock (_lock) _meta.TryGetListing(prefix, allowStale: true, out previous);
            await AddHeadsAsync(prefix, entries, previous, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (IsUnreachable(e))
        {
            lock (_lock)
            {
                if (_meta.TryGetListing(prefix, allowStale: true, out var stale))
                {
                    NoticeOffline(e);
                    return stale;
                }
            }
            throw;
        }
        lock (_lock)
        {
            _meta.SetListing(prefix, entries);
            // Children the kernel knows that are gone from the store lose their name.
            if (dir.Children is { } children)
            {
                foreach (var (name, child) in children.ToList())
                {
                    if (!child.LocalOnly && child.Write is null && (!entries.TryGetValue(name, out var e) || e.Kind != child.Kind))
                    {
                        DetachLocked(child);
                    }
                }
            }
            return entries;
        }
    }

    /// <summary>Lists one directory level: one LIST per 1,000 entries, applying the <see cref="KeyNames"/> rules.</summary>
    private async Task<Dictionary<string, ChildEntry>> ListDirectoryAsync(string prefix, CancellationToken ct)
    {
        var entries = new Dictionary<string, ChildEntry>(StringComparer.Ordinal);
        string? token = null;
        do
        {
            var page = await _store.ListAsync(new ListRequest(prefix, "/", token), ct).ConfigureAwait(false);
            foreach (var p in page.CommonPrefixes)
            {
                string name = p.Length > prefix.Length ? p[prefix.Length..^1] : "";
                if (!KeyNames.IsValidName(name))
                {
                    _logger.LogDebug("prefix '{Prefix}' cannot be a directory name; not listed", p);
                    continue;
                }
                entries[name] = new ChildEntry(NodeKind.Directory, 0, null, _mountTime);
            }
            foreach (var o in page.Objects)
            {
                if (o.Key == prefix) continue; // this directory's own marker
                string name = o.Key[prefix.Length..];
                if (!KeyNames.IsValidName(name))
                {
                    _logger.LogDebug("key '{Key}' cannot be a file name; not listed", o.Key);
                    continue;
                }
                if (entries.TryGetValue(name, out var existing) && existing.Kind == NodeKind.Directory)
                {
                    _logger.LogDebug("key '{Key}' is hidden by the directory of the same name", o.Key);
                    continue;
                }
                entries[name] = new ChildEntry(NodeKind.File, o.Size, o.ETag, o.LastModified);
            }
            token = page.NextPageToken;
        }
        while (token is not null);
        return entries;
    }

    /// <summary>Creates a directory by writing the zero-byte marker <c>name/</c>.</summary>
    /// <exception cref="FileSystemException">ReadOnly, Exists, NotDirectory, NameTooLong.</exception>
    public async ValueTask<EntryReply> MkdirAsync(ulong parent, string name, CancellationToken cancellationToken)
    {
        ThrowIfReadOnly();
        KeyNames.Validate(name);
        var dir = GetDirectory(parent);
        await ThrowIfExistsAsync(dir, name, cancellationToken).ConfigureAwait(false);
        string key = DirectoryPrefix(dir) + name + "/";
        var info = await _store.WriteAsync(key, ObjectContent.FromBytes(ReadOnlyMemory<byte>.Empty), ObjectWriteOptions.Default with { ContentType = "application/x-directory" }, cancellationToken).ConfigureAwait(false);
        lock (_lock)
        {
            var entry = new ChildEntry(NodeKind.Directory, 0, null, info.LastModified);
            var child = UpsertChildLocked(dir, name, entry);
            SetListingEntryLocked(dir, name, entry);
            // A new directory is known to be empty.
            _meta.SetListing(DirectoryPrefixLocked(child), new Dictionary<string, ChildEntry>(StringComparer.Ordinal));
            return EntryLocked(child);
        }
    }

    /// <summary>Throws Exists if <paramref name="name"/> exists in <paramref name="dir"/>.</summary>
    private async Task ThrowIfExistsAsync(Inode dir, string name, CancellationToken ct)
    {
        if (await FindChildAsync(dir, name, ct).ConfigureAwait(false) is not null)
        {
            throw new FileSystemException(FsError.Exists, $"{name} exists");
        }
    }

    /// <summary>Finds a child without taking a lookup reference; <c>null</c> when it does not exist.</summary>
    private async Task<Inode?> FindChildAsync(Inode dir, string name, CancellationToken ct)
    {
        lock (_lock)
        {
            if (TryLookupCachedLocked(dir, name, out var cached))
            {
                return cached;
            }
        }
        string prefix = DirectoryPrefix(dir);
        var found = await ResolveChildAsync(prefix, name, ct).ConfigureAwait(false);
        lock (_lock)
        {
            if (dir.Children?.TryGetValue(name, out var local) == true && (local.LocalOnly || local.Write is not null))
            {
                return local;
            }
            if (found is not { } entry)
            {
                _meta.SetMissing(prefix + name);
                return null;
            }
            _meta.SetObject(prefix + name, entry);
            return UpsertChildLocked(dir, name, entry);
        }
    }

    /// <summary>Removes an empty directory: deletes its marker, if any.</summary>
    /// <exception cref="FileSystemException">ReadOnly, NotFound, NotDirectory, NotEmpty.</exception>
    public async ValueTask RmdirAsync(ulong parent, string name, CancellationToken cancellationToken)
    {
        ThrowIfReadOnly();
        var dir = GetDirectory(parent);
        var child = await FindChildAsync(dir, name, cancellationToken).ConfigureAwait(false) ?? throw NotFound(name);
        if (!child.IsDirectory)
        {
            throw new FileSystemException(FsError.NotDirectory, $"{name} is not a directory");
        }
        lock (_lock)
        {
            if (child.Children?.Values.Any(c => c.LocalOnly && !c.Detached) == true)
            {
                throw new FileSystemException(FsError.NotEmpty, $"{name} is not empty");
            }
        }
        string prefix = DirectoryPrefix(child);
        var page = await _store.ListAsync(new ListRequest(prefix, null, null, 2), cancellationToken).ConfigureAwait(false);
        if (page.Objects.Any(o => o.Key != prefix) || page.CommonPrefixes.Count > 0)
        {
            throw new FileSystemException(FsError.NotEmpty, $"{name} is not empty");
        }
        if (page.Objects.Count > 0 || !_store.Capabilities.MarkerInOwnListing)
        {
            await _store.DeleteAsync(prefix, cancellationToken).ConfigureAwait(false);
        }
        lock (_lock)
        {
            SetListingEntryLocked(dir, name, null);
            DetachLocked(child);
        }
    }
}
