using System.Collections.Immutable;
using CloudMount.Core.Storage;
using Microsoft.Extensions.Logging;

namespace CloudMount.Core.Vfs;

/// <summary>
/// What the mount believes each directory holds: listings as immutable snapshots (one LIST per 1,000 entries),
/// single names resolved with one LIST, negative entries, and the local changes (create, upload, unlink,
/// rename) that must win over an answer requested before they happened.
/// </summary>
/// <remarks>
/// <para>A LIST takes time; a local change made while it runs is not in its answer. Every LIST therefore
/// registers with <c>_lists</c> before it is sent, and <see cref="RecordLocked"/> notes each local change of that
/// directory while a LIST is in flight; the answer is stored only with those changes applied on top.</para>
/// <para>Locking: <c>_lists</c> and every change of the metadata cache happen under the inode table's lock,
/// so a listing snapshot is replaced, never changed, and readers may keep the one they got.</para>
/// </remarks>
internal sealed class DirectoryViews : IDisposable
{
    private readonly VfsContext _ctx;
    private readonly MetadataCache _meta;
    private readonly Dictionary<string, ListsInFlight> _lists = [];   // by directory prefix; protected by the table lock

    private sealed class ListsInFlight
    {
        public int Count;
        public readonly List<(string Name, ChildEntry? Entry)> Changes = [];
    }

    /// <summary>A LIST in flight: where its directory's change journal stood when it was sent.</summary>
    private readonly record struct ListTicket(string Prefix, ListsInFlight Journal, int Start);

    public DirectoryViews(VfsContext ctx)
    {
        _ctx = ctx;
        _meta = new MetadataCache(ctx.Options.MetadataTtl, ctx.Options.NegativeTtl, ctx.Time) { Journal = ctx.Options.Caches?.Heads };
    }

    private InodeTable Table => _ctx.Table;

    // ------------------------------------------------------------------ local changes

    /// <summary>
    /// Records a local change of one name: the cached listing, the object entry (or a negative entry for
    /// <c>null</c>), and the journal of LISTs in flight. Caller holds the table lock.
    /// </summary>
    public void RecordLocked(Inode dir, string name, ChildEntry? entry)
    {
        string prefix = Table.PrefixLocked(dir);
        _meta.UpdateListingEntry(prefix, name, entry);
        if (entry is { } e) _meta.SetObject(prefix + name, e);
        else _meta.SetMissing(prefix + name);
        if (_lists.TryGetValue(prefix, out var journal)) journal.Changes.Add((name, entry));
    }

    /// <summary>Records that a new directory is empty (mkdir). Caller holds the table lock.</summary>
    public void RecordEmptyDirectoryLocked(Inode dir) =>
        _meta.SetListing(Table.PrefixLocked(dir), ImmutableDictionary.Create<string, ChildEntry>(StringComparer.Ordinal));

    /// <summary>Forgets all metadata under a prefix (a directory renamed or removed). Caller holds the table lock.</summary>
    public void InvalidatePrefixLocked(string prefix) => _meta.InvalidatePrefix(prefix);

    /// <summary>Forgets a negative entry (a name just created). Caller holds the table lock.</summary>
    public void ClearMissingLocked(string key) => _meta.ClearMissing(key);

    /// <summary>Records what a HEAD or lookup said about a key. Caller holds the table lock.</summary>
    public void SetObjectLocked(string key, ChildEntry entry) => _meta.SetObject(key, entry);

    /// <summary>What the mount knows of a key, whatever its age (the cache is safe to read without the table lock).</summary>
    public ChildEntry? Known(string key) => _meta.TryGetObject(key, allowStale: true, out var e) ? e : null;

    /// <summary>
    /// What the mount knows of a key with its metadata (any age), else what an earlier mount on the cache folder
    /// recorded: for a file, of version <paramref name="etag"/>; for a directory, of its marker.
    /// </summary>
    public ChildEntry? KnownOrRecorded(string key, string? etag, bool directory) => _meta.TryGetKnownHead(key, etag, directory);

    /// <summary>Records that a key does not exist. Caller holds the table lock.</summary>
    public void SetMissingLocked(string key) => _meta.SetMissing(key);

    private ListTicket BeginList(string prefix)
    {
        lock (Table.Sync)
        {
            if (!_lists.TryGetValue(prefix, out var journal)) _lists[prefix] = journal = new ListsInFlight();
            journal.Count++;
            return new ListTicket(prefix, journal, journal.Changes.Count);
        }
    }

    /// <summary>Ends a LIST and returns the local changes made while it ran. Caller holds the table lock.</summary>
    private List<(string Name, ChildEntry? Entry)> EndListLocked(ListTicket ticket)
    {
        var changes = ticket.Journal.Changes.Skip(ticket.Start).ToList();
        if (--ticket.Journal.Count == 0 && _lists.TryGetValue(ticket.Prefix, out var j) && j == ticket.Journal)
        {
            _lists.Remove(ticket.Prefix);
        }
        return changes;
    }

    // ------------------------------------------------------------------ freshness

    /// <summary>True when a file's attributes are fresh: a fresh lookup/HEAD of its key, or a fresh listing naming it. Caller holds the table lock.</summary>
    public bool IsFreshLocked(Inode n)
    {
        if (n.Parent is not { } p) return true;
        string prefix = Table.PrefixLocked(p);
        return _meta.TryGetObject(prefix + n.Name, allowStale: false, out _)
            || (_meta.TryGetListing(prefix, allowStale: false, out var listing) && listing.ContainsKey(n.Name));
    }

    /// <summary>
    /// Answers a lookup from memory when possible: a child with local state or fresh attributes, a fresh
    /// listing, or a fresh negative entry. <paramref name="result"/> is <c>null</c> for "known not to exist".
    /// Caller holds the table lock; a child it makes has no reference yet.
    /// </summary>
    public bool TryLookupCachedLocked(Inode dir, string name, out Inode? result)
    {
        if (InodeTable.ChildLocked(dir, name) is { } child && (child.HasLocalState || IsFreshLocked(child)))
        {
            result = child;
            return true;
        }
        string prefix = Table.PrefixLocked(dir);
        if (_meta.TryGetListing(prefix, allowStale: false, out var listing))
        {
            result = listing.TryGetValue(name, out var e) ? Table.UpsertChildLocked(dir, name, e) : null;
            return true;
        }
        if (_meta.IsKnownMissing(prefix + name))
        {
            result = null;
            return true;
        }
        if (_meta.TryGetObject(prefix + name, allowStale: false, out var o))
        {
            result = Table.UpsertChildLocked(dir, name, o);
            return true;
        }
        result = null;
        return false;
    }

    /// <summary>Answers a lookup from metadata of any age (the store is unreachable). Caller holds the table lock.</summary>
    public bool TryLookupStaleLocked(Inode dir, string name, out Inode? result)
    {
        if (InodeTable.ChildLocked(dir, name) is { } child)
        {
            result = child;
            return true;
        }
        string prefix = Table.PrefixLocked(dir);
        if (_meta.TryGetListing(prefix, allowStale: true, out var listing))
        {
            result = listing.TryGetValue(name, out var e) ? Table.UpsertChildLocked(dir, name, e) : null;
            return true;
        }
        if (_meta.TryGetObject(prefix + name, allowStale: true, out var o))
        {
            result = Table.UpsertChildLocked(dir, name, o);
            return true;
        }
        result = null;
        return false;
    }

    /// <summary>True when a listing of the directory (of any age) fits in one LIST page, so one LIST refreshes every name in it.</summary>
    public bool HasSmallListing(Inode dir)
    {
        lock (Table.Sync) return _meta.TryGetListing(Table.PrefixLocked(dir), allowStale: true, out var l) && l.Count < 1000;
    }

    // ------------------------------------------------------------------ listing

    /// <summary>
    /// The directory's entries: from the cache while fresh, otherwise with LIST requests (and, with exact
    /// attributes, HEADs); while the store is unreachable, from the cache whatever its age. Children the mount
    /// knows that are gone from the store lose their name.
    /// </summary>
    public async Task<ImmutableDictionary<string, ChildEntry>> GetListingAsync(Inode dir, CancellationToken ct)
    {
        string prefix;
        lock (Table.Sync)
        {
            prefix = Table.PrefixLocked(dir);
            if (_meta.TryGetListing(prefix, allowStale: false, out var fresh)) return fresh;
        }
        var ticket = BeginList(prefix);
        Dictionary<string, ChildEntry> entries;
        try
        {
            entries = await ListDirectoryAsync(prefix, ct).ConfigureAwait(false);
            ImmutableDictionary<string, ChildEntry>? previous;
            lock (Table.Sync) _meta.TryGetListing(prefix, allowStale: true, out previous);
            await ObjectHeads.CompleteListingAsync(_ctx, prefix, entries, previous, KnownOrRecorded, ct).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            lock (Table.Sync)
            {
                EndListLocked(ticket);
                if (VfsContext.IsUnreachable(e) && _meta.TryGetListing(prefix, allowStale: true, out var stale))
                {
                    _ctx.NoticeOffline(e);
                    return stale;
                }
            }
            throw;
        }
        lock (Table.Sync)
        {
            foreach (var (name, change) in EndListLocked(ticket))
            {
                if (change is { } c) entries[name] = c;
                else entries.Remove(name);
            }
            var snapshot = entries.ToImmutableDictionary(StringComparer.Ordinal);
            _meta.SetListing(prefix, snapshot);
            dir.Subdirs = snapshot.Values.Count(e => e.Kind == NodeKind.Directory);
            if (dir.Children is { } children)
            {
                foreach (var (name, child) in children.ToList())
                {
                    if (!child.HasLocalState && (!snapshot.TryGetValue(name, out var e) || e.Kind != child.Kind)) Table.DetachLocked(child);
                }
            }
            return snapshot;
        }
    }

    /// <summary>Lists one directory level: one LIST per 1,000 entries, applying the <see cref="KeyNames"/> rules.</summary>
    private async Task<Dictionary<string, ChildEntry>> ListDirectoryAsync(string prefix, CancellationToken ct)
    {
        var entries = new Dictionary<string, ChildEntry>(StringComparer.Ordinal);
        string? token = null;
        do
        {
            var page = await _ctx.Store.ListAsync(new ListRequest(prefix, "/", token), ct).ConfigureAwait(false);
            foreach (var p in page.CommonPrefixes)
            {
                string name = p.Length > prefix.Length ? p[prefix.Length..^1] : "";
                if (!KeyNames.IsValidName(name))
                {
                    _ctx.Logger.LogDebug("prefix '{Prefix}' cannot be a directory name; not listed", p);
                    continue;
                }
                entries[name] = new ChildEntry(NodeKind.Directory, 0, null, _ctx.MountTime);
            }
            foreach (var o in page.Objects)
            {
                if (o.Key == prefix) continue; // this directory's own marker
                string name = o.Key[prefix.Length..];
                if (!KeyNames.IsValidName(name))
                {
                    _ctx.Logger.LogDebug("key '{Key}' cannot be a file name; not listed", o.Key);
                    continue;
                }
                if (entries.TryGetValue(name, out var existing) && existing.Kind == NodeKind.Directory)
                {
                    _ctx.Logger.LogDebug("key '{Key}' is hidden by the directory of the same name", o.Key);
                    continue;
                }
                entries[name] = ObjectHeads.ListedEntry(o);
            }
            token = page.NextPageToken;
        }
        while (token is not null);
        return entries;
    }

    /// <summary>
    /// Finds out what <c>prefix + name</c> is with one LIST (prefix = the key, delimiter '/'): the object itself
    /// and the common prefix <c>key/</c> both show up in it, so no HEAD and no second spelling is needed. A local
    /// change of the name made while the LIST ran wins. Returns <c>null</c> for "does not exist".
    /// </summary>
    public async Task<ChildEntry?> ResolveChildAsync(string dirPrefix, string name, CancellationToken ct)
    {
        var ticket = BeginList(dirPrefix);
        ChildEntry? found;
        try
        {
            found = await ResolveFromStoreAsync(dirPrefix + name, ct).ConfigureAwait(false);
        }
        catch
        {
            lock (Table.Sync) EndListLocked(ticket);
            throw;
        }
        lock (Table.Sync)
        {
            foreach (var (changed, entry) in EndListLocked(ticket))
            {
                if (changed == name) found = entry;
            }
            return found;
        }
    }

    private async Task<ChildEntry?> ResolveFromStoreAsync(string key, CancellationToken ct)
    {
        string asDir = key + "/";
        ChildEntry? file = null;
        string? token = null;
        do
        {
            var page = await _ctx.Store.ListAsync(new ListRequest(key, "/", token), ct).ConfigureAwait(false);
            bool passed = false;
            foreach (var p in page.CommonPrefixes)
            {
                if (p == asDir) return new ChildEntry(NodeKind.Directory, 0, null, _ctx.MountTime);
                passed |= KeyComparer.Instance.Compare(p, asDir) > 0;
            }
            foreach (var o in page.Objects)
            {
                if (o.Key == key) file = ObjectHeads.ListedEntry(o);
                passed |= KeyComparer.Instance.Compare(o.Key, asDir) > 0;
            }
            token = passed ? null : page.NextPageToken;
        }
        while (token is not null);
        return file;
    }

    /// <inheritdoc/>
    public void Dispose() => _meta.Dispose();
}
