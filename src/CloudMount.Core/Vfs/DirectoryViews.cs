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
    private readonly DirectoryLister _lister;
    private readonly Dictionary<string, ListsInFlight> _lists = [];   // by directory prefix; protected by the table lock

    /// <summary>Listings being made, by directory and whether only a small one is wanted; protected by the table lock.</summary>
    private readonly Dictionary<(Inode Dir, bool SmallOnly), Task<ImmutableDictionary<string, ChildEntry>?>> _listings = [];

    /// <summary>Cancelled at <see cref="Dispose"/>: a shared listing no caller can stop ends with the mount.</summary>
    private readonly CancellationTokenSource _stopping = new();

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
        _lister = new DirectoryLister(ctx);
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
    public void RecordEmptyDirectoryLocked(Inode dir)
    {
        _meta.SetListing(Table.PrefixLocked(dir), ImmutableDictionary.Create<string, ChildEntry>(StringComparer.Ordinal));
        dir.ListingPages = 1;
    }

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

    /// <summary>
    /// Whether a kernel lookup that memory cannot answer should list the directory (at most
    /// <see cref="SmallListingPages"/> pages) rather than resolve its one name: when the directory's last listing
    /// took that few pages, or, for a directory never listed, from the second name resolved in it (a program reading
    /// many files it did not list, as <c>python -c 'open(...)'</c> in a loop or <c>tar -T list</c>, then costs one
    /// listing per directory and TTL, not a LIST per file; rclone's VFS lists the directory on every lookup). A
    /// larger directory has its first pages listed again every <see cref="LargeDirectoryLookupsPerPage"/> names.
    /// Not with exact attributes, where a listing costs a HEAD per entry. Caller holds the table lock; counts the
    /// lookup.
    /// </summary>
    public bool ListsForLookupLocked(Inode dir)
    {
        if (dir.ListingPages is > 0 and <= SmallListingPages) return true;
        if (_ctx.ExactAttributes) return false;
        return ++dir.StoreLookups >= (dir.ListingPages == 0 ? 2 : LargeDirectoryLookupsPerPage);
    }

    /// <summary>
    /// In a directory larger than <see cref="SmallListingPages"/> pages, names resolved one by one before its first
    /// pages are listed again (their names then answer lookups for the TTL): a page costs a few LISTs of one name, so a
    /// program that looks up names at random pays at most a few times as much, one that reads them all far less.
    /// </summary>
    private const int LargeDirectoryLookupsPerPage = 16;

    /// <summary>
    /// LIST pages a directory may take and still be listed whole for a lookup: two, as some servers (s3rver)
    /// answer a full page of exactly 1,000 keys as truncated and the second page is empty.
    /// </summary>
    private const int SmallListingPages = 2;

    // ------------------------------------------------------------------ listing

    /// <summary>
    /// The directory's entries: from the cache while fresh, otherwise with LIST requests (and, with exact
    /// attributes, HEADs); while the store is unreachable, from the cache whatever its age. Children the mount
    /// knows that are gone from the store lose their name.
    /// </summary>
    public async Task<ImmutableDictionary<string, ChildEntry>> GetListingAsync(Inode dir, CancellationToken ct) =>
        (await GetListingAsync(dir, smallOnly: false, ct).ConfigureAwait(false))!;

    /// <summary>
    /// As <see cref="GetListingAsync(Inode, CancellationToken)"/>; with <paramref name="smallOnly"/>, sends at most
    /// <see cref="SmallListingPages"/> LISTs and returns <c>null</c> when the directory needs more (it is then marked as such, its listing kept as it
    /// was, and the names of the page are known for the TTL).
    /// </summary>
    public async Task<ImmutableDictionary<string, ChildEntry>?> GetListingAsync(Inode dir, bool smallOnly, CancellationToken ct)
    {
        Task<ImmutableDictionary<string, ChildEntry>?>? shared;
        lock (Table.Sync)
        {
            string prefix = Table.PrefixLocked(dir);
            if (_meta.TryGetListing(prefix, allowStale: false, out var fresh)) return fresh;
            // Lookups and readdirs of one directory that miss together share one listing.
            if (!_listings.TryGetValue((dir, smallOnly), out shared))
            {
                shared = ListAndStoreAsync(dir, prefix, smallOnly);
                _listings[(dir, smallOnly)] = shared;
            }
        }
        return await shared.WaitAsync(ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Lists the directory and stores the listing (the work of <see cref="GetListingAsync(Inode, bool,
    /// CancellationToken)"/>, shared by every caller that asked meanwhile, so no one caller's cancellation stops
    /// it; its requests are bounded by the store's timeouts, and unmounting cancels it). Removes itself from
    /// <c>_listings</c> when done.
    /// </summary>
    private async Task<ImmutableDictionary<string, ChildEntry>?> ListAndStoreAsync(Inode dir, string prefix, bool smallOnly)
    {
        // Runs after the caller has registered this task (which it does under the table lock).
        await Task.Yield();
        try
        {
            return await ListAndStoreCoreAsync(dir, prefix, smallOnly, _stopping.Token).ConfigureAwait(false);
        }
        finally
        {
            lock (Table.Sync) _listings.Remove((dir, smallOnly));
        }
    }

    private async Task<ImmutableDictionary<string, ChildEntry>?> ListAndStoreCoreAsync(Inode dir, string prefix, bool smallOnly, CancellationToken ct)
    {
        var ticket = BeginList(prefix);
        Dictionary<string, ChildEntry> entries;
        try
        {
            int pages;
            (entries, pages) = await _lister.ListAsync(prefix, smallOnly ? SmallListingPages : int.MaxValue, ct).ConfigureAwait(false);
            ImmutableDictionary<string, ChildEntry>? previous;
            lock (Table.Sync)
            {
                dir.ListingPages = pages == 0 ? SmallListingPages + 1 : pages;
                dir.StoreLookups = 0;
                _meta.TryGetListing(prefix, allowStale: true, out previous);
            }
            if (pages == 0 && _ctx.ExactAttributes)
            {
                // Not listed, and a listed name alone is not enough with exact attributes: nothing is kept.
                lock (Table.Sync) EndListLocked(ticket);
                return null;
            }
            await ObjectHeads.CompleteListingAsync(_ctx, prefix, entries, previous, KnownOrRecorded, ct).ConfigureAwait(false);
            if (pages == 0)
            {
                // More pages than asked for: the directory is not listed by this call, but each name the pages
                // hold is known for the TTL (local changes made meanwhile win), so lookups of them cost nothing.
                lock (Table.Sync)
                {
                    foreach (var (name, change) in EndListLocked(ticket))
                    {
                        if (change is { } c) entries[name] = c;
                        else entries.Remove(name);
                    }
                    foreach (var (name, e) in entries) _meta.SetObject(prefix + name, e);
                }
                return null;
            }
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
                // Children the mount knows take what the listing says of them (a lookup answered from this
                // listing returns the inode as it is); those gone, or of another kind now, lose their name.
                foreach (var (name, child) in children.ToList())
                {
                    if (child.HasLocalState) continue;
                    if (!snapshot.TryGetValue(name, out var e) || e.Kind != child.Kind) Table.DetachLocked(child);
                    else Table.UpsertChildLocked(dir, name, e);
                }
            }
            return snapshot;
        }
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
            found = await _lister.ResolveAsync(dirPrefix + name, ct).ConfigureAwait(false);
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

    /// <inheritdoc/>
    public void Dispose()
    {
        // Cancelled, not disposed: a listing that starts during unmount still reads its token (it has no timer to free).
        _stopping.Cancel();
        _meta.Dispose();
    }
}
