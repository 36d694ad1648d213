namespace CloudMount.Core.Vfs;

/// <summary>
/// What stat shows for a node, from what the mount knows of it (the one place that decides).
/// </summary>
internal static class AttributeView
{
    /// <summary>
    /// A file's size is its staged length while it has local data, else its decoded size when it is an encoded
    /// object whose decoded size is known, else the stored size. Mode, owner and mtime come from the object's
    /// metadata (<see cref="PosixMetadata"/>) when it is known, else from the mount's options and the object's
    /// Last-Modified. Caller holds the table lock.
    /// </summary>
    public static NodeAttributes OfLocked(VfsContext ctx, Inode n)
    {
        var o = ctx.Options;
        if (n.IsDirectory)
        {
            return new NodeAttributes(n.Ino, NodeKind.Directory, 0, n.Mtime, o.DirectoryMode, o.Uid, o.Gid);
        }
        var posix = n.HeadIsCurrent ? PosixMetadata.Parse(n.Head!.Metadata) : default;
        var w = n.Write;
        if (w?.Metadata is { } pending) posix = PosixMetadata.Parse(pending);
        long size = w is not null ? w.Length
            : o.Decoding is not null && n.Encoding is { } c && c != Codecs.Codec.Identity && n.EncodingETag == n.ETag ? n.DecodedSize ?? n.Size
            : n.Size;
        var mtime = w is { Dirty: true } ? w.Mtime : posix.Mtime ?? n.Mtime;
        uint mode = posix.Permissions ?? (n.Kind == NodeKind.Symlink ? 0x1FF : o.FileMode);
        return new NodeAttributes(n.Ino, n.Kind, size, mtime, mode, posix.Uid ?? o.Uid, posix.Gid ?? o.Gid);
    }

    /// <summary>Attributes of <paramref name="n"/>.</summary>
    public static NodeAttributes Of(VfsContext ctx, Inode n)
    {
        lock (ctx.Table.Sync) return OfLocked(ctx, n);
    }

    /// <summary>Takes one lookup reference and returns the entry reply. Caller holds the table lock.</summary>
    public static EntryReply EntryLocked(VfsContext ctx, Inode n)
    {
        InodeTable.TakeLookupLocked(n);
        return new EntryReply(OfLocked(ctx, n), ctx.AttrTimeoutSeconds, ctx.AttrTimeoutSeconds);
    }

    /// <summary>A listing entry for a node with local state, as it looks locally. Caller holds the table lock.</summary>
    public static ChildEntry LocalEntryLocked(VfsContext ctx, Inode n)
    {
        if (n.Write is null && !n.LocalOnly) return new ChildEntry(n.Kind, n.Size, n.ETag, n.Mtime, n.Head, n.DecodedSize);
        var a = OfLocked(ctx, n);
        return new ChildEntry(n.Kind, a.Size, n.ETag, a.Mtime);
    }
}
