namespace CloudMount.Core.Vfs;

/// <summary>File, directory or symbolic link.</summary>
public enum NodeKind
{
    /// <summary>A regular file: one object.</summary>
    File,
    /// <summary>A directory: a key prefix, with or without a <c>dir/</c> marker.</summary>
    Directory,
    /// <summary>A symbolic link: an object holding the target, whose <c>mode</c> metadata says S_IFLNK (s3fs's convention).</summary>
    Symlink,
}

/// <summary>
/// The attributes a stat call shows, free of any platform's struct layout.
/// </summary>
/// <param name="Ino">Inode number, unique for the life of the mount (never reused).</param>
/// <param name="Kind">File or directory.</param>
/// <param name="Size">Bytes for a file, 0 for a directory.</param>
/// <param name="Mtime">Modification time (stored <c>mtime</c> metadata, else the object's Last-Modified, or the time of a local change).</param>
/// <param name="Mode">Permission bits only (for example 0644); the adapter adds the type bits.</param>
/// <param name="Uid">Owner user id.</param>
/// <param name="Gid">Owner group id.</param>
public readonly record struct NodeAttributes(ulong Ino, NodeKind Kind, long Size, DateTimeOffset Mtime, uint Mode, uint Uid, uint Gid)
{
    /// <summary>Link count: 2 for a directory, 1 for a file.</summary>
    public uint Nlink => Kind == NodeKind.Directory ? 2u : 1u;

    /// <summary>Allocated 512-byte blocks, rounded up, as <c>du</c> expects.</summary>
    public long Blocks512 => (Size + 511) / 512;
}

/// <summary>An answer to lookup, create or mkdir: attributes plus how long the kernel may cache them.</summary>
/// <param name="Attributes">The node.</param>
/// <param name="AttrTimeout">Seconds the attributes may be cached.</param>
/// <param name="EntryTimeout">Seconds the name-to-inode mapping may be cached.</param>
public readonly record struct EntryReply(NodeAttributes Attributes, double AttrTimeout, double EntryTimeout);

/// <summary>An answer to open or create.</summary>
/// <param name="Handle">The file handle to pass back on read, write, flush and release.</param>
/// <param name="KeepCache">The kernel may keep cached pages from earlier opens: the ETag did not change.</param>
/// <param name="DirectIo">Bypass the page cache (for content of unknown size).</param>
public readonly record struct OpenReply(ulong Handle, bool KeepCache, bool DirectIo);

/// <summary>Open flags the Vfs cares about, decoded from the platform's flags by the adapter.</summary>
[Flags]
public enum OpenFlags
{
    /// <summary>Read only.</summary>
    Read = 1,
    /// <summary>Write only.</summary>
    Write = 2,
    /// <summary>Read and write.</summary>
    ReadWrite = Read | Write,
    /// <summary>Truncate to zero length at open.</summary>
    Truncate = 4,
    /// <summary>Writes go to the end.</summary>
    Append = 8,
    /// <summary>Fail if the file exists (with create).</summary>
    Exclusive = 16,
}

/// <summary>Which attributes a setattr changes; <c>null</c> leaves one unchanged.</summary>
public sealed record SetAttributes
{
    /// <summary>New size in bytes (truncate or extend).</summary>
    public long? Size { get; init; }
    /// <summary>New modification time.</summary>
    public DateTimeOffset? Mtime { get; init; }
    /// <summary>New access time (accepted and ignored: objects have none).</summary>
    public DateTimeOffset? Atime { get; init; }
    /// <summary>New permission bits (stored as <c>mode</c> metadata with <see cref="VfsOptions.PosixAttributes"/>, otherwise accepted and ignored).</summary>
    public uint? Mode { get; init; }
    /// <summary>New owner (stored as <c>uid</c> metadata with <see cref="VfsOptions.PosixAttributes"/>, otherwise accepted and ignored).</summary>
    public uint? Uid { get; init; }
    /// <summary>New group (stored as <c>gid</c> metadata with <see cref="VfsOptions.PosixAttributes"/>, otherwise accepted and ignored).</summary>
    public uint? Gid { get; init; }
}

/// <summary>Rename options, as renameat2 gives them.</summary>
[Flags]
public enum RenameFlags
{
    /// <summary>Replace the target if it exists.</summary>
    None = 0,
    /// <summary>Fail with EEXIST if the target exists.</summary>
    NoReplace = 1,
    /// <summary>Swap source and target atomically (not supported: objects cannot be swapped atomically).</summary>
    Exchange = 2,
}

/// <summary>Filesystem totals for statfs (object stores have no real limits; these are large, fixed numbers).</summary>
/// <param name="BlockSize">Bytes per block.</param>
/// <param name="Blocks">Total blocks.</param>
/// <param name="FreeBlocks">Free blocks.</param>
/// <param name="Files">Total inodes.</param>
/// <param name="FreeFiles">Free inodes.</param>
/// <param name="NameMax">Longest name in bytes.</param>
public readonly record struct FsStatistics(uint BlockSize, ulong Blocks, ulong FreeBlocks, ulong Files, ulong FreeFiles, uint NameMax);

/// <summary>One directory entry handed to an adapter's buffer.</summary>
/// <param name="Name">The entry name (not a path).</param>
/// <param name="Attributes">Its attributes; for readdirplus, with a real inode number.</param>
/// <param name="NextOffset">The offset to pass to the next readdir to continue after this entry.</param>
public readonly record struct DirectoryEntry(string Name, NodeAttributes Attributes, long NextOffset);

/// <summary>
/// Adds one entry to the adapter's reply buffer; returns false when it does not fit (the entry is then not
/// returned and, for readdirplus, its lookup count is not taken).
/// </summary>
public delegate bool DirectoryFiller(in DirectoryEntry entry);
