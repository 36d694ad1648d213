using CloudMount.Core.Vfs;

namespace CloudMount.Windows;

/// <summary>
/// One open of a file or directory (WinFsp's file descriptor, UserContext2): the path node it pins and the Vfs
/// handles it opened, lazily: a read handle at the first read, a write handle at the first write, truncate or
/// overwrite (a Windows open that only reads attributes costs the store nothing). <see cref="Gate"/> guards
/// the lazy opens and the listing; <see cref="Tail"/> orders the work after Cleanup before Close's release.
/// </summary>
internal sealed class WinHandle(ulong id, PathNode node, bool canWrite)
{
    public ulong Id { get; } = id;
    public PathNode Node { get; } = node;
    public bool IsDirectory => Node.Kind == NodeKind.Directory;
    /// <summary>The open was granted write, append or delete access.</summary>
    public bool CanWrite { get; } = canWrite;
    public readonly SemaphoreSlim Gate = new(1, 1);
    // Vfs handles are never 0, so 0 means "not opened"; plain ulongs are read and written whole (no torn reads
    // from a concurrent request, as a ulong? could give).
    /// <summary>Vfs read handle, pinned to the ETag seen at its open; 0 until the first read.</summary>
    public ulong ReadFh;
    /// <summary>Vfs write handle, 0 until needed; reads go through it too once it exists (they see this handle's writes).</summary>
    public ulong WriteFh;
    /// <summary>Written since the last flush: Close flushes again (writes may follow Cleanup until Close).</summary>
    public bool WrittenSinceFlush;
    /// <summary>Vfs directory handle and the listing taken at the last scan without a marker, sorted by Windows name.</summary>
    public ulong DirFh;
    public DirectoryListing? Listing;
    /// <summary>SetDelete(TRUE) was asked (the FSD's Cleanup Delete flag is what deletes).</summary>
    public bool DeletePending;
    /// <summary>The work Cleanup started (an upload), which Close waits for.</summary>
    public Task Tail = Task.CompletedTask;
}

/// <summary>A directory's entries as Windows sees them: <c>.</c> and <c>..</c> first (not in the root), then the rest in ordinal order of their Windows names.</summary>
internal sealed class DirectoryListing(List<(string Name, NodeAttributes Attributes)> entries, int dotEntries)
{
    public List<(string Name, NodeAttributes Attributes)> Entries { get; } = entries;

    /// <summary>How many leading entries are <c>.</c> and <c>..</c>.</summary>
    public int DotEntries { get; } = dotEntries;

    /// <summary>The index of the first entry after <paramref name="marker"/> (the last name the previous page returned).</summary>
    public int IndexAfter(string? marker)
    {
        if (marker is null) return 0;
        for (int i = 0; i < DotEntries; i++)
        {
            if (Entries[i].Name == marker) return i + 1;
        }
        int lo = DotEntries, hi = Entries.Count;
        while (lo < hi)
        {
            int mid = (lo + hi) / 2;
            if (string.CompareOrdinal(Entries[mid].Name, marker) <= 0) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }
}
