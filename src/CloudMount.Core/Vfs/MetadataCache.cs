using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Caching.Memory;

namespace CloudMount.Core.Vfs;

/// <summary>
/// What the mount knows about keys and directories: directory listings, single objects (from lookups and
/// HEADs) and names known to be missing, in a size-limited <see cref="MemoryCache"/> (an entry costs 1, a listing
/// 1 + its entries), so memory stays bounded however many directories a long-running mount visits.
/// </summary>
/// <remarks>
/// Positive entries carry the time they were fetched and are <em>fresh</em> for the metadata TTL; after that they
/// stay available, marked stale, so that a mount whose store is unreachable can still answer lookups and
/// listings (the offline behaviour). Negative entries expire after the negative TTL. Listings are immutable
/// snapshots: a reader keeps the one it got while a local change replaces it with a new one. Callers serialise
/// changes of one listing (<see cref="DirectoryViews"/> makes them under the inode table's lock).
/// </remarks>
internal sealed class MetadataCache : IDisposable
{
    private readonly MemoryCache _cache;
    private readonly TimeProvider _time;
    private readonly long _ttlTicks;
    private readonly TimeSpan _negativeTtl;

    private sealed class Timed<T>(T value, long fetchedAt)
    {
        public T Value { get; } = value;
        public long FetchedAt { get; } = fetchedAt;
    }

    /// <summary>Creates the cache.</summary>
    /// <param name="ttl">How long positive entries are fresh.</param>
    /// <param name="negativeTtl">How long a missing name is remembered.</param>
    /// <param name="time">The clock.</param>
    /// <param name="capacity">Most entries (listing children count one each).</param>
    public MetadataCache(TimeSpan ttl, TimeSpan negativeTtl, TimeProvider time, long capacity = 2_000_000)
    {
        _time = time;
        _ttlTicks = (long)(ttl.TotalSeconds * time.TimestampFrequency);
        _negativeTtl = negativeTtl;
        _cache = new MemoryCache(new MemoryCacheOptions { SizeLimit = capacity, CompactionPercentage = 0.2 });
    }

    /// <summary>
    /// Where heads with metadata are also kept across mounts (<see cref="Caching.HeadJournal"/>), or <c>null</c>:
    /// every object head stored here is remembered there, and <see cref="TryGetKnownHead"/> falls back to it.
    /// </summary>
    public Caching.HeadJournal? Journal { get; init; }

    private bool IsFresh(long fetchedAt) => _time.GetTimestamp() - fetchedAt < _ttlTicks;

    private static (char, string) L(string prefix) => ('L', prefix);
    private static (char, string) O(string key) => ('O', key);
    private static (char, string) N(string key) => ('N', key);

    /// <summary>A directory's entries by name, fresh (or, with <paramref name="allowStale"/>, any age).</summary>
    public bool TryGetListing(string prefix, bool allowStale, [NotNullWhen(true)] out ImmutableDictionary<string, ChildEntry>? entries)
    {
        if (_cache.TryGetValue(L(prefix), out Timed<ImmutableDictionary<string, ChildEntry>>? t) && t is not null && (allowStale || IsFresh(t.FetchedAt)))
        {
            entries = t.Value;
            return true;
        }
        entries = null;
        return false;
    }

    /// <summary>Stores a complete listing, fetched now.</summary>
    public void SetListing(string prefix, ImmutableDictionary<string, ChildEntry> entries)
    {
        if (Journal is { } j)
        {
            foreach (var e in entries.Values) if (e.Head is { } h) j.Remember(h);
        }
        SetListing(prefix, entries, _time.GetTimestamp());
    }

    private void SetListing(string prefix, ImmutableDictionary<string, ChildEntry> entries, long fetchedAt) =>
        _cache.Set(L(prefix), new Timed<ImmutableDictionary<string, ChildEntry>>(entries, fetchedAt),
            new MemoryCacheEntryOptions { Size = 1 + entries.Count });

    /// <summary>
    /// Applies a local change (a create, write, delete or rename) to a cached listing, if there is one, by
    /// replacing it with a changed snapshot of the same age. Callers serialise changes of one prefix.
    /// </summary>
    public void UpdateListingEntry(string prefix, string name, ChildEntry? entry)
    {
        if (!_cache.TryGetValue(L(prefix), out Timed<ImmutableDictionary<string, ChildEntry>>? t) || t is null) return;
        if (entry is { Head: { } head }) Journal?.Remember(head);
        var changed = entry is { } e ? t.Value.SetItem(name, e) : t.Value.Remove(name);
        if (!ReferenceEquals(changed, t.Value)) SetListing(prefix, changed, t.FetchedAt);
    }

    /// <summary>A single object's attributes, fresh (or any age).</summary>
    public bool TryGetObject(string key, bool allowStale, out ChildEntry entry)
    {
        if (_cache.TryGetValue(O(key), out Timed<ChildEntry>? t) && t is not null && (allowStale || IsFresh(t.FetchedAt)))
        {
            entry = t.Value;
            return true;
        }
        entry = default;
        return false;
    }

    /// <summary>Records what a key is now (and that it is not missing).</summary>
    public void SetObject(string key, ChildEntry entry)
    {
        // A listing or lookup says nothing of a directory's marker: what was known of it stays.
        if (entry.Kind == NodeKind.Directory && entry.Head is null && TryGetObject(key, allowStale: true, out var known)
            && known.Kind == NodeKind.Directory && known.Head is not null)
        {
            entry = entry with { Head = known.Head, Mtime = known.Mtime };
        }
        if (entry.Head is { } head) Journal?.Remember(head);
        _cache.Remove(N(key));
        _cache.Set(O(key), new Timed<ChildEntry>(entry, _time.GetTimestamp()), new MemoryCacheEntryOptions { Size = 1 });
    }

    /// <summary>
    /// What the mount knows of a key, of any age: the cached object, else what an earlier mount on this cache
    /// folder recorded: for a file, the head of version <paramref name="etag"/>; for a directory, its marker's.
    /// </summary>
    public ChildEntry? TryGetKnownHead(string key, string? etag, bool directory)
    {
        if (TryGetObject(key, allowStale: true, out var e) && e.Head is not null) return e;
        if (directory) return Journal?.TryGetMarker(key + "/") is { } m ? ObjectHeads.DirectoryEntry(m) : null;
        return Journal?.TryGet(key, etag) is { } h ? ObjectHeads.EntryFromHead(h, null) : null;
    }

    /// <summary>True when <paramref name="key"/> is known not to exist.</summary>
    public bool IsKnownMissing(string key) =>
        _cache.TryGetValue(N(key), out Timed<bool>? t) && t is not null && _time.GetTimestamp() - t.FetchedAt < (long)(_negativeTtl.TotalSeconds * _time.TimestampFrequency);

    /// <summary>Records that <paramref name="key"/> does not exist (and forgets what it was).</summary>
    public void SetMissing(string key)
    {
        _cache.Remove(O(key));
        if (Journal is { } j)
        {
            j.Forget(key);
            j.Forget(key + "/");
        }
        if (_negativeTtl > TimeSpan.Zero)
        {
            _cache.Set(N(key), new Timed<bool>(true, _time.GetTimestamp()), new MemoryCacheEntryOptions { Size = 1, AbsoluteExpirationRelativeToNow = _negativeTtl });
        }
    }

    /// <summary>Forgets a missing-name entry.</summary>
    public void ClearMissing(string key) => _cache.Remove(N(key));

    /// <summary>
    /// Forgets everything known under <paramref name="prefix"/> (listings, objects, missing names), after a
    /// directory was renamed or removed, so a new directory of the old name starts from the store.
    /// </summary>
    public void InvalidatePrefix(string prefix)
    {
        foreach (var key in _cache.Keys)
        {
            if (key is ValueTuple<char, string> k && k.Item2.StartsWith(prefix, StringComparison.Ordinal))
            {
                _cache.Remove(key);
            }
        }
    }

    /// <summary>Entries held now (for tests).</summary>
    public long Count => _cache.Count;

    /// <inheritdoc/>
    public void Dispose() => _cache.Dispose();
}
