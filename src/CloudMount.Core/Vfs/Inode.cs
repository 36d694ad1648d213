using CloudMount.Core.Storage;

namespace CloudMount.Core.Vfs;

/// <summary>
/// One node the kernel knows by number. Identity (<see cref="Ino"/>, <see cref="Kind"/>) never changes; the
/// name, parent and last known attributes do. Whether an inode is still needed is decided by one rule, owned by
/// <see cref="InodeTable.IsUnreferenced"/>; whether its attributes are still fresh is the
/// <see cref="DirectoryViews"/>' business, by key.
/// </summary>
/// <remarks>
/// <para>Locking: every mutable field below is protected by the <see cref="InodeTable"/>'s lock
/// (<see cref="InodeTable.Sync"/>), which is never held across an await. <see cref="Gate"/> serialises the
/// namespace and write operations that involve this inode (see <see cref="InodeGates"/> for the order in which
/// several are taken); the contents of <see cref="Write"/> are protected by it.</para>
/// </remarks>
internal sealed class Inode(ulong ino, NodeKind kind, Inode? parent, string name)
{
    public ulong Ino { get; } = ino;
    public NodeKind Kind { get; } = kind;
    public bool IsDirectory => Kind == NodeKind.Directory;

    /// <summary>Serialises namespace and write operations on this inode (taken through <see cref="InodeGates"/>).</summary>
    public SemaphoreSlim Gate { get; } = new(1, 1);

    // ---- the tree: protected by the table lock ----
    public Inode? Parent = parent;
    public string Name = name;
    /// <summary>Directories: children the mount knows, by name.</summary>
    public Dictionary<string, Inode>? Children;
    /// <summary>Unlinked, replaced or renamed over: no longer reachable by name.</summary>
    public bool Detached;

    // ---- references: protected by the table lock; see InodeTable.IsUnreferenced ----
    /// <summary>Lookup references the kernel holds (lookup, create, mkdir, readdirplus add one; forget drops).</summary>
    public long Lookups;
    /// <summary>Open file handles.</summary>
    public int OpenCount;
    /// <summary>Operations of the mount itself that hold the inode for a moment (see <see cref="InodeTable.Pin"/>).</summary>
    public int Pins;

    // ---- what the mount knows of the object: protected by the table lock ----
    /// <summary>Created here and never uploaded: no object exists yet.</summary>
    public bool LocalOnly;
    /// <summary>Bumped by every local change of the fields below, so an answer that was requested before it is not applied over it.</summary>
    public long Revision;
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
    /// <summary>
    /// Times changed here that the object does not (yet) carry: a directory's mtime and ctime when entries are
    /// added or removed (kept for the session), a node's ctime when its attributes change. Cleared when another
    /// version of the object is seen.
    /// </summary>
    public PosixTime? LocalMtime, LocalCtime;
    /// <summary>
    /// Attributes set here on a store that keeps no metadata (file://): they last for the session only.
    /// </summary>
    public PosixMetadata Session;
    /// <summary>Directories: how many subdirectories the last listing (plus local changes) showed, for nlink; <c>null</c> before one.</summary>
    public int? Subdirs;
    /// <summary>
    /// Directories: LIST pages the last listing took (0: never listed; 3 also stands for "more than 2", when a
    /// lookup listed only the first pages). See <see cref="DirectoryViews.ListsForLookupLocked"/>.
    /// </summary>
    public int ListingPages;
    /// <summary>Directories: names resolved from the store one by one while no listing was known.</summary>
    public int StoreLookups;

    /// <summary>
    /// Files: the staging state while the file is open for writing or holds data not yet uploaded. The reference
    /// is set and cleared under both the gate and the table lock; its contents are protected by the gate.
    /// </summary>
    public FileWriteBack? Write;

    /// <summary>
    /// True when <see cref="Head"/> describes the version the inode shows. For a directory <see cref="Head"/> is its
    /// marker object's metadata, whatever its ETag (a listing names no marker version).
    /// </summary>
    public bool HeadIsCurrent => Head is { } h && (IsDirectory || (!LocalOnly && h.ETag == ETag));

    /// <summary>True when the inode has local state that a listing must not overwrite.</summary>
    public bool HasLocalState => LocalOnly || Write is not null;
}

/// <summary>What a listing, a lookup or a HEAD said about one name.</summary>
/// <param name="Kind">File, directory, symlink or special file (the last two known only from the object's metadata).</param>
/// <param name="Size">Stored object size in bytes (0 for directories).</param>
/// <param name="ETag">Object ETag, or <c>null</c>.</param>
/// <param name="Mtime">Object Last-Modified (the mount's start time for directories).</param>
/// <param name="Head">The object's full metadata when known (a HEAD, our own write; for a directory its marker's), else <c>null</c>.</param>
/// <param name="DecodedSize">For an encoded object, its decoded size in bytes when known, else <c>null</c>.</param>
public readonly record struct ChildEntry(NodeKind Kind, long Size, string? ETag, DateTimeOffset Mtime, ObjectInfo? Head = null, long? DecodedSize = null)
{
    /// <summary>
    /// True when <paramref name="head"/> still describes this listed version: same ETag and the same
    /// Last-Modified within <see cref="MtimeSlackSeconds"/> (HTTP dates have whole seconds; a metadata change by
    /// another client moves Last-Modified).
    /// </summary>
    public bool Matches(ObjectInfo head) =>
        head.ETag == ETag && Math.Abs((head.LastModified - Mtime).TotalSeconds) <= MtimeSlackSeconds;

    /// <summary>
    /// How far a listing's Last-Modified may be from the one the mount recorded for the same version: the time our
    /// own upload recorded comes from the answer (or the clock), which may be a second off what listings report.
    /// </summary>
    public const double MtimeSlackSeconds = 2;
}
