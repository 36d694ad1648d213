namespace CloudMount.Core.Vfs;

/// <summary>
/// One node the kernel knows by number. Identity (<see cref="Ino"/>, <see cref="Kind"/>) never changes; the
/// name, parent and cached attributes do. An inode lives while the kernel holds lookups on it
/// (<see cref="Lookups"/>) or while it has data not yet uploaded.
/// </summary>
/// <remarks>
/// Locking: every mutable field is protected by the owning <see cref="CloudFileSystem"/>'s metadata lock,
/// except the contents of <see cref="Write"/>, which its own gate protects.
/// </remarks>
internal sealed class Inode(ulong ino, NodeKind kind, Inode? parent, string name)
{
    public ulong Ino { get; } = ino;
    public NodeKind Kind { get; } = kind;
    public bool IsDirectory => Kind == NodeKind.Directory;

    // ---- protected by the metadata lock ----
    public Inode? Parent = parent;
    public string Name = name;
    public long Lookups;
    /// <summary>Unlinked, replaced or renamed over: no longer reachable by name.</summary>
    public bool Detached;
    /// <summary>Created here and never uploaded: no object exists yet.</summary>
    public bool LocalOnly;

    public long Size;
    public string? ETag;
    public DateTimeOffset Mtime;
    /// <summary>Timestamp (TimeProvider ticks) until which Size/ETag/Mtime are trusted.</summary>
    public long ValidUntil;
    /// <summary>ETag of the bytes the kernel's page cache may hold for this inode (keep_cache decision).</summary>
    public string? KernelCacheETag;

    /// <summary>Directories: children the kernel knows, by name.</summary>
    public Dictionary<string, Inode>? Children;
    /// <summary>Directories: the last complete listing, if any.</summary>
    public DirectoryListing? Listing;
    /// <summary>Directories: names known not to exist, with the timestamp until which that is trusted.</summary>
    public Dictionary<string, long>? Negative;

    /// <summary>Files: the staging state while the file is open for writing or holds data not yet uploaded.</summary>
    public WriteState? Write;
    /// <summary>Open file handles on this inode.</summary>
    public int OpenCount;
}

/// <summary>What a listing said about one child.</summary>
/// <param name="Kind">File or directory.</param>
/// <param name="Size">Object size (0 for directories).</param>
/// <param name="ETag">Object ETag, or <c>null</c>.</param>
/// <param name="Mtime">Object Last-Modified (the mount's start time for directories).</param>
internal readonly record struct ChildEntry(NodeKind Kind, long Size, string? ETag, DateTimeOffset Mtime);

/// <summary>A complete listing of one directory, valid until <see cref="ValidUntil"/>.</summary>
internal sealed class DirectoryListing(Dictionary<string, ChildEntry> entries, long validUntil)
{
    public Dictionary<string, ChildEntry> Entries { get; } = entries;
    public long ValidUntil { get; } = validUntil;
}
