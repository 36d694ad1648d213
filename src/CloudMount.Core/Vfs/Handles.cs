using CloudMount.Core.Reading;

namespace CloudMount.Core.Vfs;

/// <summary>An open file: the inode, how it was opened, and the read-ahead for the version seen at open.</summary>
internal sealed class FileHandle(Inode inode, OpenFlags flags, string? etag, long size)
{
    public Inode Inode { get; } = inode;
    public OpenFlags Flags { get; } = flags;
    /// <summary>The ETag pinned at open: every range read names it.</summary>
    public string? ETag { get; } = etag;
    /// <summary>The size at open.</summary>
    public long Size { get; } = size;
    public bool CanWrite => (Flags & OpenFlags.Write) != 0;
    /// <summary>Created on the first read that goes to the store (or at open, to learn the encoding).</summary>
    public Prefetcher? Reader;
    /// <summary>An encoded object's decoded copy, which reads come from instead.</summary>
    public Codecs.DecodedCopy? Decoded;
    public readonly Lock Sync = new();
}

/// <summary>An open directory: a snapshot of its entries taken at the first readdir, so offsets stay stable.</summary>
internal sealed class DirectoryHandle(Inode directory)
{
    public Inode Directory { get; } = directory;
    public SnapshotEntry[]? Snapshot;
    public readonly SemaphoreSlim Gate = new(1, 1);
}

/// <summary>One entry of a readdir snapshot; <see cref="Child"/> is <c>null</c> for <c>.</c> and <c>..</c>.</summary>
internal readonly record struct SnapshotEntry(string Name, NodeKind Kind, ChildEntry? Child, ulong FixedIno);
