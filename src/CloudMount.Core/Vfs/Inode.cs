namespace CloudMount.Core.Vfs;

/// <summary>
/// One node the kernel knows by number. Identity (<see cref="Ino"/>, <see cref="Kind"/>) never changes; the
/// name, parent and last known attributes do. An inode lives while the kernel holds lookups on it
/// (<see cref="Lookups"/>), while it is open, or while it has data not yet uploaded. Whether its attributes are
/// still fresh is the <see cref="Caching.MetadataCache"/>'s business, by key.
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

    /// <summary>Last known size, ETag and modification time of the object.</summary>
    public long Size;
    public string? ETag;
    public DateTimeOffset Mtime;
    /// <summary>ETag of the bytes the kernel's page cache may hold for this inode (keep_cache decision).</summary>
    public string? KernelCacheETag;
    /// <summary>The object's Content-Encoding, once learned for the ETag <see cref="EncodingETag"/>.</summary>
    public Codecs.Codec? Encoding;
    public string? EncodingETag;
    /// <summary>Encoded objects: the decoded size once known (metadata, frame header, trailer, or a finished decode).</summary>
    public long? DecodedSize;

    /// <summary>Directories: children the kernel knows, by name.</summary>
    public Dictionary<string, Inode>? Children;

    /// <summary>Files: the staging state while the file is open for writing or holds data not yet uploaded.</summary>
    public WriteState? Write;
    /// <summary>Open file handles on this inode.</summary>
    public int OpenCount;
}

/// <summary>What a listing, a lookup or a HEAD said about one name.</summary>
/// <param name="Kind">File or directory.</param>
/// <param name="Size">Object size in bytes (0 for directories).</param>
/// <param name="ETag">Object ETag, or <c>null</c>.</param>
/// <param name="Mtime">Object Last-Modified (the mount's start time for directories).</param>
public readonly record struct ChildEntry(NodeKind Kind, long Size, string? ETag, DateTimeOffset Mtime);
