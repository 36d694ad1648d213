namespace CloudMount.Core.Vfs;

/// <summary>
/// What stat shows for a node, from what the mount knows of it (the one place that decides).
/// </summary>
/// <remarks>
/// The POSIX attributes (<see cref="PosixMetadata"/>: mode, uid, gid, mtime, atime, ctime, rdev) come from, in
/// order: what was set here on a store without metadata (<see cref="Inode.Session"/>); the metadata of a file's
/// pending upload; the metadata of the version shown (a HEAD, a GET, our own write; for a directory its marker);
/// otherwise the documented defaults: the mount's <c>--file-mode</c>/<c>--dir-mode</c>, <c>--uid</c>/<c>--gid</c>,
/// and the object's Last-Modified (a directory: the mount's start).
/// </remarks>
internal static class AttributeView
{
    /// <summary>The POSIX attributes the mount knows for <paramref name="n"/>. Caller holds the table lock.</summary>
    public static PosixMetadata KnownLocked(Inode n)
    {
        var known = n.HeadIsCurrent ? PosixMetadata.Parse(n.Head!.Metadata) : default;
        if (n.Write?.Metadata is { } pending) known = PosixMetadata.Parse(pending);
        return known.With(n.Session);
    }

    /// <summary>The attributes of <paramref name="n"/>. Caller holds the table lock.</summary>
    public static NodeAttributes OfLocked(VfsContext ctx, Inode n)
    {
        var o = ctx.Options;
        var posix = KnownLocked(n);
        var w = n.Write;
        long size = n.Kind switch
        {
            NodeKind.Directory => 0,
            _ when NodeKinds.IsSpecial(n.Kind) => 0,
            _ when w is not null => w.Length,
            _ when o.Decoding is not null && n.Encoding is { } c && c != Codecs.Codec.Identity && n.EncodingETag == n.ETag => n.DecodedSize ?? n.Size,
            _ => n.Size,
        };
        var mtime = w is { Dirty: true } ? w.Mtime : n.LocalMtime ?? posix.Mtime ?? n.Mtime;
        uint fallback = n.Kind switch
        {
            NodeKind.Directory => o.DirectoryMode,
            NodeKind.Symlink => 0x1FF,
            _ => o.FileMode,
        };
        uint links = n.Kind == NodeKind.Directory ? 2u + (uint)Math.Max(0, n.Subdirs ?? 0) : n.Detached ? 0u : 1u;
        return new NodeAttributes(n.Ino, n.Kind, size, mtime, posix.Permissions ?? fallback, posix.Uid ?? o.Uid, posix.Gid ?? o.Gid)
        {
            Nlink = links,
            Atime = posix.Atime ?? mtime,
            Ctime = Later(n.LocalCtime ?? posix.Ctime, mtime),
            Rdev = posix.Rdev ?? 0,
        };
    }

    /// <summary>ctime is never before mtime (a write changes both).</summary>
    private static PosixTime Later(PosixTime? a, PosixTime b) => a is { } t && t > b ? t : b;

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

    /// <summary>A listing entry for a node as it looks locally (with what the mount knows of it). Caller holds the table lock.</summary>
    public static ChildEntry LocalEntryLocked(VfsContext ctx, Inode n)
    {
        if (n.Write is null && !n.LocalOnly) return new ChildEntry(n.Kind, n.Size, n.ETag, n.Mtime, n.Head, n.DecodedSize);
        var a = OfLocked(ctx, n);
        return new ChildEntry(n.Kind, a.Size, n.ETag, a.Mtime);
    }

    /// <summary>
    /// Records a change of a directory's entries: its mtime and ctime become now (POSIX), for the session.
    /// Caller holds the table lock.
    /// </summary>
    public static void EntriesChangedLocked(VfsContext ctx, Inode dir, int subdirDelta = 0)
    {
        var now = ctx.Time.GetUtcNow();
        dir.LocalMtime = now;
        dir.LocalCtime = now;
        if (subdirDelta != 0 && dir.Subdirs is { } known) dir.Subdirs = Math.Max(0, known + subdirDelta);
    }

    /// <summary>Records a change of a node's attributes: its ctime becomes now. Caller holds the table lock.</summary>
    public static void AttributesChangedLocked(VfsContext ctx, Inode n) => n.LocalCtime = ctx.Time.GetUtcNow();
}
