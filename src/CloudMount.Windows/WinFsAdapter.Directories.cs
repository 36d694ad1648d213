using CloudMount.Core.Vfs;
using CloudMount.Windows.Interop;

namespace CloudMount.Windows;

/// <summary>ReadDirectory and GetDirInfoByName.</summary>
internal sealed partial class WinFsAdapter
{
    /// <summary>
    /// ReadDirectory: the entries after <paramref name="marker"/> (the last name of the previous page; none for
    /// the first) that match <paramref name="pattern"/>, packed into <paramref name="buffer"/> as DIR_INFO
    /// records, followed by the end marker once the last entry is in. A scan without a marker lists the
    /// directory (one LIST per 1,000 entries, or none while the Vfs's listing is fresh) and keeps that listing
    /// for the pages after it, so a page boundary never skips or repeats a name. <c>.</c> and <c>..</c> come
    /// first, except in the root (as NTFS). Returns the bytes used.
    /// </summary>
    public ValueTask<NtResult<int>> ReadDirectoryAsync(ulong context, string? pattern, string? marker, Memory<byte> buffer) =>
        Run("ReadDirectory", async ct =>
        {
            var h = Handle(context);
            if (!h.IsDirectory) throw new NtStatusException(NtStatus.NotADirectory, "not a directory");
            DirectoryListing listing;
            await h.Gate.WaitAsync(ct).ConfigureAwait(false);
            try
            {
                if (marker is null || h.Listing is null)
                {
                    h.Listing = await ListAsync(h, ct).ConfigureAwait(false);
                }
                listing = h.Listing;
            }
            finally
            {
                h.Gate.Release();
            }
            bool all = WildcardPattern.MatchesAll(pattern);
            var span = buffer.Span;
            int used = 0;
            var entries = listing.Entries;
            for (int i = listing.IndexAfter(marker); i < entries.Count; i++)
            {
                var (name, attrs) = entries[i];
                if (!all && !WildcardPattern.IsMatch(pattern!, name)) continue;
                if (!DirInfoBuffer.TryAdd(span, ref used, name, FileInfoMapper.ToFileInfo(attrs, ReadOnly))) return used;
            }
            DirInfoBuffer.TryAddEnd(span, ref used);
            return used;
        });

    /// <summary>Takes the directory's entries from the Vfs (plain readdir: no lookup references) and sorts them by Windows name.</summary>
    private async ValueTask<DirectoryListing> ListAsync(WinHandle h, CancellationToken ct)
    {
        if (h.DirFh == 0) h.DirFh = _fs.OpenDir(h.Node.Ino);
        var all = new List<(string Name, NodeAttributes Attributes)>();
        NodeAttributes? self = null, parent = null;
        await _fs.ReadDirAsync(h.Node.Ino, h.DirFh, 0, false, (in DirectoryEntry e) =>
        {
            if (e.Name == ".") self = e.Attributes;
            else if (e.Name == "..") parent = e.Attributes;
            else all.Add((WindowsNames.ToWindows(e.Name), e.Attributes));
            return true;
        }, ct).ConfigureAwait(false);
        all.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        int dots = 0;
        if (h.Node.Parent is not null && self is { } s && parent is { } p)
        {
            all.Insert(0, ("..", p));
            all.Insert(0, (".", s));
            dots = 2;
        }
        return new DirectoryListing(all, dots);
    }

    /// <summary>
    /// GetDirInfoByName: the entry <paramref name="name"/> of the directory (WinFsp's shortcut for a pattern
    /// without wildcards, so FindFirstFile("dir\\a.txt") needs no listing). Its name is the one Windows shows.
    /// </summary>
    public ValueTask<NtResult<(string Name, FspFileInfo Info)>> GetDirInfoByNameAsync(ulong context, string name) =>
        Run("GetDirInfoByName " + name, async ct =>
        {
            var h = Handle(context);
            if (!h.IsDirectory) throw new NtStatusException(NtStatus.NotADirectory, "not a directory");
            string storeName = WindowsNames.ToStore(name);
            var child = await Nodes.ChildAsync(h.Node, storeName, ct).ConfigureAwait(false);
            try
            {
                return (WindowsNames.ToWindows(storeName), await InfoAsync(child, ct).ConfigureAwait(false));
            }
            finally
            {
                Nodes.Unpin(child);
            }
        });
}
