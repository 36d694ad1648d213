using CloudMount.Core.Storage;

namespace CloudMount.Core.Vfs;

/// <summary>
/// Name resolution and attribute refresh: lookup (which takes a kernel reference), finding a child for a
/// namespace operation (which does not), getattr with a HEAD when cached attributes expired, and taking what a
/// HEAD or GET answer said into the inode without overwriting a newer local change.
/// </summary>
internal sealed class NodeLookup(VfsContext ctx)
{
    private InodeTable Table => ctx.Table;
    private DirectoryViews Views => ctx.Views;

    /// <summary>Looks up <paramref name="name"/> in <paramref name="parent"/> and takes one lookup reference on it.</summary>
    /// <exception cref="FileSystemException">NotFound, NotDirectory, NameTooLong.</exception>
    public async ValueTask<EntryReply> LookupAsync(ulong parent, string name, CancellationToken ct)
    {
        var dir = Table.GetDirectory(parent);
        if (System.Text.Encoding.UTF8.GetByteCount(name) > KeyNames.NameMax)
        {
            throw new FileSystemException(FsError.NameTooLong, "name too long");
        }
        if (!KeyNames.IsValidName(name)) throw new FileSystemException(FsError.NotFound, $"'{name}' is not a valid name");
        var found = await FindChildAsync(dir, name, Reference.Lookup, ct).ConfigureAwait(false);
        if (found is null) throw VfsContext.NotFound(name);
        lock (Table.Sync) return new EntryReply(AttributeView.OfLocked(ctx, found), ctx.AttrTimeoutSeconds, ctx.AttrTimeoutSeconds);
    }

    /// <summary>The reference <see cref="FindChildAsync"/> takes on what it finds, in the same lock that finds it.</summary>
    public enum Reference
    {
        /// <summary>A kernel lookup reference (the caller replies with the entry).</summary>
        Lookup,
        /// <summary>A pin the caller owns through <see cref="InodeTable.Adopt"/> and releases by disposing it.</summary>
        Pin,
    }

    /// <summary>
    /// Finds the child called <paramref name="name"/>: from memory when fresh, else with one LIST (of the whole
    /// directory when it fits in one page and this is a kernel lookup, see
    /// <see cref="DirectoryViews.ListsForLookupLocked"/>, so reading many files costs one LIST per directory and
    /// TTL, not one each), else from stale metadata while the store is unreachable. The inode found
    /// carries one reference of the kind <paramref name="reference"/> asks, taken under the lock that found it,
    /// so it cannot be dropped before the caller uses it. Returns <c>null</c> (and takes nothing) when the name
    /// does not exist.
    /// </summary>
    public async Task<Inode?> FindChildAsync(Inode dir, string name, Reference reference, CancellationToken ct)
    {
        bool listFirst;
        lock (Table.Sync)
        {
            if (Views.TryLookupCachedLocked(dir, name, out var cached)) return Take(cached, reference);
            listFirst = reference == Reference.Lookup && Views.ListsForLookupLocked(dir);
        }
        string prefix = Table.Prefix(dir);
        ChildEntry? found;
        try
        {
            if (listFirst && await Views.GetListingAsync(dir, smallOnly: true, ct).ConfigureAwait(false) is { } entries)
            {
                found = entries.TryGetValue(name, out var e) ? e : null;
            }
            else
            {
                if (listFirst)
                {
                    // The directory's first pages did not hold all of it; the names they held are known now.
                    lock (Table.Sync)
                    {
                        if (Views.TryLookupCachedLocked(dir, name, out var paged)) return Take(paged, reference);
                    }
                }
                found = await Views.ResolveChildAsync(prefix, name, ct).ConfigureAwait(false);
                if (found is { } listed)
                {
                    found = await CompleteEntryAsync(dir, name, prefix, listed, ct).ConfigureAwait(false);
                }
            }
        }
        catch (Exception e) when (VfsContext.IsUnreachable(e))
        {
            lock (Table.Sync)
            {
                if (Views.TryLookupStaleLocked(dir, name, out var stale))
                {
                    ctx.NoticeOffline(e);
                    return Take(stale, reference);
                }
            }
            throw;
        }
        lock (Table.Sync)
        {
            // A local change that raced with the request wins.
            if (InodeTable.ChildLocked(dir, name) is { HasLocalState: true } local) return Take(local, reference);
            if (found is not { } entry)
            {
                Views.SetMissingLocked(prefix + name);
                if (InodeTable.ChildLocked(dir, name) is { } gone) Table.DetachLocked(gone);
                return null;
            }
            Views.SetObjectLocked(prefix + name, entry);
            return Take(Table.UpsertChildLocked(dir, name, entry), reference);
        }
    }

    /// <summary>Takes the reference on a found inode. Caller holds the table lock.</summary>
    private static Inode? Take(Inode? n, Reference reference)
    {
        if (n is null) return null;
        if (reference == Reference.Lookup) InodeTable.TakeLookupLocked(n);
        else n.Pins++;
        return n;
    }

    /// <summary>
    /// A listed entry with the metadata the mount already holds for that version (a directory: for its marker), or
    /// with exact attributes a HEAD (of the object, or of the directory's marker).
    /// </summary>
    private async Task<ChildEntry?> CompleteEntryAsync(Inode dir, string name, string prefix, ChildEntry listed, CancellationToken ct)
    {
        if (listed.Kind == NodeKind.Directory)
        {
            if (Views.KnownOrRecorded(prefix + name, null, directory: true) is { Kind: NodeKind.Directory, Head: not null } known) return listed with { Head = known.Head, Mtime = known.Mtime };
            lock (Table.Sync)
            {
                if (InodeTable.ChildLocked(dir, name) is { IsDirectory: true, Head: { } h }) return listed with { Head = h, Mtime = h.LastModified };
            }
            if (!ctx.ExactAttributes) return listed;
            var marker = await ctx.Store.HeadAsync(prefix + name + "/", ct).ConfigureAwait(false);
            return marker is null ? listed : ObjectHeads.DirectoryEntry(marker);
        }
        lock (Table.Sync)
        {
            if (InodeTable.ChildLocked(dir, name) is { Head: { } h } c && listed.Matches(h))
            {
                return listed with { Kind = c.Kind, Head = h, DecodedSize = c.DecodedSize };
            }
        }
        if (Views.KnownOrRecorded(prefix + name, listed.ETag, directory: false) is { Head: { } head } k && k.Kind != NodeKind.Directory && listed.Matches(head))
        {
            return listed with { Kind = k.Kind, Head = head, DecodedSize = k.DecodedSize };
        }
        return ctx.ExactAttributes ? await ObjectHeads.HeadEntryAsync(ctx, prefix + name, ct).ConfigureAwait(false) : listed;
    }

    /// <summary>Returns attributes, asking the store (HEAD) when a closed file's cached attributes have expired.</summary>
    /// <exception cref="FileSystemException">NotFound when the object is gone.</exception>
    public async ValueTask<NodeAttributes> GetAttrAsync(ulong ino, CancellationToken ct)
    {
        var n = Table.Get(ino);
        lock (Table.Sync)
        {
            // An open file's version is pinned until it is closed (close-to-open), so the kernel's periodic
            // revalidation during long reads needs no HEAD.
            if (n.IsDirectory || n.HasLocalState || n.Detached || n.OpenCount > 0 || Views.IsFreshLocked(n))
            {
                return AttributeView.OfLocked(ctx, n);
            }
        }
        await RefreshFileAsync(n, ct).ConfigureAwait(false);
        return AttributeView.Of(ctx, n);
    }

    /// <summary>
    /// HEADs a file's object and updates its attributes and metadata, unless a local change came in meanwhile;
    /// while the store is unreachable, keeps the known ones. An object that turned into a symlink (or back) loses
    /// this inode's name: the next lookup makes a new inode of the right type.
    /// </summary>
    /// <exception cref="FileSystemException">NotFound when the object is gone.</exception>
    public async Task RefreshFileAsync(Inode n, CancellationToken ct)
    {
        string key;
        long revision;
        lock (Table.Sync)
        {
            if (n.Parent is null) return;
            key = Table.KeyLocked(n);
            revision = n.Revision;
        }
        ObjectInfo? info;
        long? decoded = null;
        try
        {
            info = await ctx.Store.HeadAsync(key, ct).ConfigureAwait(false);
            if (info is not null) decoded = await ObjectHeads.ProbeDecodedSizeAsync(ctx, info, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (VfsContext.IsUnreachable(e))
        {
            ctx.NoticeOffline(e);
            return;
        }
        lock (Table.Sync)
        {
            if (n.HasLocalState || n.Revision != revision) return;
            if (info is null)
            {
                if (n.Parent is { } p && !n.Detached)
                {
                    Views.RecordLocked(p, n.Name, null);
                    Table.DetachLocked(n);
                }
                throw VfsContext.NotFound(n.Name);
            }
            var entry = ObjectHeads.EntryFromHead(info, decoded);
            InodeTable.ApplyEntryLocked(n, entry);
            if (n.Parent is { } parent && !n.Detached)
            {
                if (entry.Kind != n.Kind) Table.DetachLocked(n);
                Views.RecordLocked(parent, n.Name, entry);
            }
            else
            {
                Views.SetObjectLocked(key, entry);
            }
        }
    }

    /// <summary>The object's metadata for the version the inode shows, HEADing it when not known.</summary>
    /// <exception cref="FileSystemException">NotFound when the object is gone; Unreachable when it is not known and the store cannot be reached.</exception>
    public async Task<ObjectInfo> EnsureHeadAsync(Inode n, CancellationToken ct)
    {
        lock (Table.Sync)
        {
            if (n.HeadIsCurrent && (n.OpenCount > 0 || Views.IsFreshLocked(n))) return n.Head!;
        }
        bool local;
        lock (Table.Sync) local = n.HasLocalState;
        if (!local)
        {
            await RefreshFileAsync(n, ct).ConfigureAwait(false);
        }
        else
        {
            // Open for writing (a refresh leaves such a file alone): HEAD the stored version it started from.
            string key;
            lock (Table.Sync) key = Table.KeyLocked(n);
            var info = await ctx.Store.HeadAsync(key, ct).ConfigureAwait(false);
            lock (Table.Sync)
            {
                if (info is not null && info.ETag == n.ETag && !n.LocalOnly) n.Head = info;
            }
        }
        lock (Table.Sync)
        {
            return n.HeadIsCurrent ? n.Head! : throw new FileSystemException(FsError.Unreachable, $"metadata of {n.Name} is not known and the store is unreachable");
        }
    }

    /// <summary>Takes the metadata a GET answer carried into the inode, when it is of the version shown.</summary>
    public void LearnFromRead(Inode n, ObjectInfo stored)
    {
        lock (Table.Sync)
        {
            if (!n.HasLocalState && n.ETag == stored.ETag && (stored.Metadata is not null || stored.ContentType is not null))
            {
                n.Head = stored;
            }
        }
    }
}
