using CloudMount.Core.Storage;

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
    /// <summary>
    /// The object's full metadata (a HEAD or GET answer: Content-Type, Content-Encoding, user metadata) for the
    /// version <see cref="ETag"/>; <c>null</c> when only a listing has been seen. See <see cref="HeadIsCurrent"/>.
    /// </summary>
    public ObjectInfo? Head;
    /// <summary>Symlinks: the target, once read (or as created here).</summary>
    public string? SymlinkTarget;

    /// <summary>True when <see cref="Head"/> describes the version the inode shows.</summary>
    public bool HeadIsCurrent => Head is { } h && !LocalOnly && h.ETag == ETag;

    /// <summary>Directories: children the kernel knows, by name.</summary>
    public Dictionary<string, Inode>? Children;

    /// <summary>Files: the staging state while the file is open for writing or holds data not yet uploaded.</summary>
    public WriteState? Write;
    /// <summary>Open file handles on this inode.</summary>
    public int OpenCount;
}

/// <summary>What a listing, a lookup or a HEAD said about one name.</summary>
/// <param name="Kind">File, directory, or symlink (known only from the object's metadata).</param>
/// <param name="Size">Stored object size in bytes (0 for directories).</param>
/// <param name="ETag">Object ETag, or <c>null</c>.</param>
/// <param name="Mtime">Object Last-Modified (the mount's start time for directories).</param>
/// <param name="Head">The object's full metadata when a HEAD was made for it (<c>--exact-attrs</c>), else <c>null</c>.</param>
/// <param name="DecodedSize">For an encoded object, its decoded size in bytes when known, else <c>null</c>.</param>
public readonly record struct ChildEntry(NodeKind Kind, long Size, string? ETag, DateTimeOffset Mtime, ObjectInfo? Head = null, long? DecodedSize = null)
{
    /// <summary>
    /// True when <paramref name="head"/> still describes this listed version: same ETag and the same
    /// Last-Modified to the second (HTTP dates have whole seconds; a metadata change moves Last-Modified).
    /// </summary>
    public bool Matches(ObjectInfo head) =>
        head.ETag == ETag && head.LastModified.ToUnixTimeSeconds() == Mtime.ToUnixTimeSeconds();
}
