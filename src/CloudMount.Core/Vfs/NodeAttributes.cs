namespace CloudMount.Core.Vfs;

/// <summary>
/// What a node is. Everything but files and directories is known only from the object's <c>mode</c> metadata
/// (s3fs's convention: a small or empty object whose mode carries the type bits).
/// </summary>
public enum NodeKind
{
    /// <summary>A regular file: one object.</summary>
    File,
    /// <summary>A directory: a key prefix, with or without a <c>dir/</c> marker.</summary>
    Directory,
    /// <summary>A symbolic link: an object holding the target, whose <c>mode</c> metadata says S_IFLNK.</summary>
    Symlink,
    /// <summary>A named pipe (S_IFIFO): an empty object; the kernel provides the pipe.</summary>
    Fifo,
    /// <summary>A socket (S_IFSOCK): an empty object.</summary>
    Socket,
    /// <summary>A character device (S_IFCHR): an empty object with its device number in <c>rdev</c> metadata.</summary>
    CharDevice,
    /// <summary>A block device (S_IFBLK): an empty object with its device number in <c>rdev</c> metadata.</summary>
    BlockDevice,
}

/// <summary>The file-type bits of st_mode for each <see cref="NodeKind"/> (S_IFMT values of Linux).</summary>
public static class NodeKinds
{
    /// <summary>S_IFMT of a kind.</summary>
    public static uint TypeBits(NodeKind kind) => kind switch
    {
        NodeKind.Directory => 0x4000,
        NodeKind.Symlink => 0xA000,
        NodeKind.Fifo => 0x1000,
        NodeKind.Socket => 0xC000,
        NodeKind.CharDevice => 0x2000,
        NodeKind.BlockDevice => 0x6000,
        _ => 0x8000,
    };

    /// <summary>The kind whose type bits <paramref name="mode"/> carries, or <c>null</c> for unknown bits.</summary>
    public static NodeKind? FromMode(uint mode) => (mode & 0xF000) switch
    {
        0x8000 => NodeKind.File,
        0x4000 => NodeKind.Directory,
        0xA000 => NodeKind.Symlink,
        0x1000 => NodeKind.Fifo,
        0xC000 => NodeKind.Socket,
        0x2000 => NodeKind.CharDevice,
        0x6000 => NodeKind.BlockDevice,
        _ => null,
    };

    /// <summary>True for the kinds stored as an object whose body is not file content (special files).</summary>
    public static bool IsSpecial(NodeKind kind) => kind is NodeKind.Fifo or NodeKind.Socket or NodeKind.CharDevice or NodeKind.BlockDevice;
}

/// <summary>
/// The attributes a stat call shows, free of any platform's struct layout.
/// </summary>
/// <param name="Ino">Inode number, unique for the life of the mount (never reused).</param>
/// <param name="Kind">File, directory, symlink or special file.</param>
/// <param name="Size">Bytes for a file, 0 for a directory.</param>
/// <param name="Mtime">Modification time (stored <c>mtime</c> metadata, else the object's Last-Modified, or the time of a local change).</param>
/// <param name="Mode">Permission bits only (07777, for example 0644); the adapter adds the type bits.</param>
/// <param name="Uid">Owner user id.</param>
/// <param name="Gid">Owner group id.</param>
public readonly record struct NodeAttributes(ulong Ino, NodeKind Kind, long Size, PosixTime Mtime, uint Mode, uint Uid, uint Gid)
{
    private readonly uint? _links;

    /// <summary>Link count: for a directory 2 plus its subdirectories (as far as the mount knows them), for a file 1, 0 once unlinked.</summary>
    public uint Nlink
    {
        get => _links ?? (Kind == NodeKind.Directory ? 2u : 1u);
        init => _links = value;
    }

    /// <summary>Last access time; <c>null</c> shows <see cref="Mtime"/> (reads do not change it: noatime).</summary>
    public PosixTime? Atime { get; init; }

    /// <summary>Last status change time; <c>null</c> shows <see cref="Mtime"/>.</summary>
    public PosixTime? Ctime { get; init; }

    /// <summary>Device number of a character or block device (Linux's encoding of major and minor), else 0.</summary>
    public ulong Rdev { get; init; }

    /// <summary>Allocated 512-byte blocks, rounded up, as <c>du</c> expects.</summary>
    public long Blocks512 => (Size + 511) / 512;
}

/// <summary>
/// Who creates a node and with which permission bits: the caller of the request (FUSE's request context), as a
/// local filesystem records them. <c>null</c> where an API takes it means the mount's <c>--uid</c>,
/// <c>--gid</c> and <c>--file-mode</c>/<c>--dir-mode</c>.
/// </summary>
/// <param name="Mode">Permission bits (07777) asked for, the umask already applied.</param>
/// <param name="Uid">The caller's user id.</param>
/// <param name="Gid">The caller's group id (a directory with the set-group-ID bit gives its own instead).</param>
public readonly record struct NodeCreation(uint Mode, uint Uid, uint Gid);

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
    /// <summary>New modification time, to the nanosecond.</summary>
    public PosixTime? Mtime { get; init; }
    /// <summary>New access time (stored as <c>atime</c> metadata).</summary>
    public PosixTime? Atime { get; init; }
    /// <summary>New permission bits, 07777 (stored as <c>mode</c> metadata, with the type bits).</summary>
    public uint? Mode { get; init; }
    /// <summary>New owner (stored as <c>uid</c> metadata).</summary>
    public uint? Uid { get; init; }
    /// <summary>New group (stored as <c>gid</c> metadata).</summary>
    public uint? Gid { get; init; }

    /// <summary>True when a POSIX attribute other than the size changes.</summary>
    public bool ChangesPosix => Mode is not null || Uid is not null || Gid is not null || Mtime is not null || Atime is not null;
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
