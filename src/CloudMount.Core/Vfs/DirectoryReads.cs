using System.Collections.Concurrent;

namespace CloudMount.Core.Vfs;

/// <summary>
/// Open directories and readdir: a snapshot of the entries is taken at the first readdir of a handle (and again
/// at offset 0, as rewinddir expects), so offsets stay stable while the directory changes.
/// </summary>
internal sealed class DirectoryReads(VfsContext ctx, OpenFiles files)
{
    private readonly ConcurrentDictionary<ulong, DirectoryHandle> _dirs = new();

    private InodeTable Table => ctx.Table;

    /// <summary>Opens a directory for readdir.</summary>
    /// <exception cref="FileSystemException">NotDirectory, NotFound.</exception>
    public ulong OpenDir(ulong ino)
    {
        var dir = Table.GetDirectory(ino);
        ulong fh = files.NextHandle();
        lock (Table.Sync) dir.OpenCount++;
        _dirs[fh] = new DirectoryHandle(dir);
        return fh;
    }

    /// <summary>Closes a directory handle.</summary>
    public void ReleaseDir(ulong fh)
    {
        if (!_dirs.TryRemove(fh, out var h)) return;
        lock (Table.Sync)
        {
            h.Directory.OpenCount--;
            Table.DropIfUnreferencedLocked(h.Directory);
        }
    }

    /// <summary>
    /// Fills a readdir reply from <paramref name="offset"/>: <c>.</c> and <c>..</c>, then the children in byte
    /// order. With <paramref name="plus"/>, each entry the filler accepts (other than <c>.</c> and <c>..</c>)
    /// takes one lookup reference, as readdirplus requires; the adapter gives them back with forget if its
    /// reply does not reach the kernel.
    /// </summary>
    /// <exception cref="FileSystemException">BadHandle for an unknown handle.</exception>
    public async ValueTask ReadDirAsync(ulong ino, ulong fh, long offset, bool plus, DirectoryFiller filler, CancellationToken ct)
    {
        if (!_dirs.TryGetValue(fh, out var h)) throw new FileSystemException(FsError.BadHandle, $"unknown directory handle {fh}");
        var snapshot = h.Snapshot;
        if (snapshot is null || offset == 0)
        {
            await h.Gate.WaitAsync(ct).ConfigureAwait(false);
            try
            {
                if (h.Snapshot is null || offset == 0) h.Snapshot = await TakeSnapshotAsync(h.Directory, ct).ConfigureAwait(false);
                snapshot = h.Snapshot;
            }
            finally
            {
                h.Gate.Release();
            }
        }
        var o = ctx.Options;
        lock (Table.Sync)
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
                        child = InodeTable.ChildLocked(dir, e.Name) is { HasLocalState: true } existing && existing.Kind == c.Kind
                            ? existing
                            : Table.UpsertChildLocked(dir, e.Name, c);
                        attrs = AttributeView.OfLocked(ctx, child);
                    }
                    else
                    {
                        ulong known = InodeTable.ChildLocked(dir, e.Name)?.Ino ?? StableIno(dir.Ino, e.Name);
                        attrs = new NodeAttributes(known, c.Kind, c.Size, c.Mtime, c.Kind == NodeKind.Directory ? o.DirectoryMode : o.FileMode, o.Uid, o.Gid);
                    }
                }
                else
                {
                    attrs = new NodeAttributes(e.FixedIno, NodeKind.Directory, 0, ctx.MountTime, o.DirectoryMode, o.Uid, o.Gid);
                }
                if (!filler(new DirectoryEntry(e.Name, attrs, i + 1)))
                {
                    if (child is not null) Table.DropIfUnreferencedLocked(child);
                    return;
                }
                if (child is not null) InodeTable.TakeLookupLocked(child);
            }
        }
    }

    /// <summary>An inode number for plain readdir entries the kernel has not looked up (informational only).</summary>
    private static ulong StableIno(ulong parent, string name) =>
        (uint)HashCode.Combine(parent, name) | (1UL << 62);

    private async Task<SnapshotEntry[]> TakeSnapshotAsync(Inode dir, CancellationToken ct)
    {
        var listing = await ctx.Views.GetListingAsync(dir, ct).ConfigureAwait(false);
        lock (Table.Sync)
        {
            var entries = listing.ToBuilder();
            // Files created here and not yet uploaded, or with newer local data, show as they are locally.
            if (dir.Children is { } children)
            {
                foreach (var (name, child) in children)
                {
                    if (child.HasLocalState) entries[name] = AttributeView.LocalEntryLocked(ctx, child);
                }
            }
            var names = entries.Keys.ToList();
            names.Sort(Storage.KeyComparer.Instance);
            var result = new SnapshotEntry[names.Count + 2];
            result[0] = new SnapshotEntry(".", NodeKind.Directory, null, dir.Ino);
            result[1] = new SnapshotEntry("..", NodeKind.Directory, null, dir.Parent?.Ino ?? InodeTable.RootIno);
            for (int i = 0; i < names.Count; i++)
            {
                result[i + 2] = new SnapshotEntry(names[i], entries[names[i]].Kind, entries[names[i]], 0);
            }
            return result;
        }
    }
}
