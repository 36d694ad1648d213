using CloudMount.Core.Vfs;
using CloudMount.Linux.Interop;

namespace CloudMount.Linux;

/// <summary>
/// Conversions between the Vfs's plain values and the kernel's structs: <c>struct stat</c> and entry replies
/// out, setattr changes and open flags in. Conversions of what the caller sent validate it and throw a
/// <see cref="FileSystemException"/> (EINVAL, EOVERFLOW) for values that have no meaning here.
/// </summary>
internal static class FuseStat
{
    private const int OAccMode = 3;
    private const int OWrOnly = 1;
    private const int ORdWr = 2;
    private const int OExcl = 0x80;
    private const int OTrunc = 0x200;
    private const int OAppend = 0x400;
    private const uint SIfDir = 0x4000;
    private const uint SIfReg = 0x8000;
    private const uint SIfLnk = 0xA000;

    public static void Fill(ref Stat st, in NodeAttributes a)
    {
        st = default;
        st.StIno = a.Ino;
        st.StMode = a.Kind switch { NodeKind.Directory => SIfDir, NodeKind.Symlink => SIfLnk, _ => SIfReg } | a.Mode;
        st.StNlink = a.Nlink;
        st.StUid = a.Uid;
        st.StGid = a.Gid;
        st.StSize = a.Size;
        st.StBlocks = a.Blocks512;
        st.StBlksize = 1 << 20;
        var t = Timespec.From(a.Mtime);
        st.StMtim = t;
        st.StCtim = t;
        st.StAtim = t;
    }

    public static void Fill(ref FuseEntryParam e, in EntryReply r)
    {
        e = default;
        e.Ino = r.Attributes.Ino;
        Fill(ref e.Attr, r.Attributes);
        e.AttrTimeout = r.AttrTimeout;
        e.EntryTimeout = r.EntryTimeout;
    }

    /// <summary>The changes a setattr asks for.</summary>
    /// <exception cref="FileSystemException">Overflow for a time outside years 1 to 9999; InvalidArgument for nanoseconds out of range or a negative size.</exception>
    public static unsafe SetAttributes Changes(Stat* attr, int toSet, DateTimeOffset now)
    {
        static DateTimeOffset Time(in Timespec t, string what)
        {
            if (t.TvNsec is < 0 or > 999_999_999) throw new FileSystemException(FsError.InvalidArgument, $"{what}: nanoseconds {t.TvNsec} out of range");
            return t.TryToDateTimeOffset(out var value)
                ? value
                : throw new FileSystemException(FsError.Overflow, $"{what} {t.TvSec} s is outside the years 1 to 9999 this filesystem stores");
        }
        if ((toSet & FuseSetAttr.Size) != 0 && attr->StSize < 0) throw new FileSystemException(FsError.InvalidArgument, "negative size");
        return new SetAttributes
        {
            Size = (toSet & FuseSetAttr.Size) != 0 ? attr->StSize : null,
            Mtime = (toSet & FuseSetAttr.MtimeNow) != 0 ? now : (toSet & FuseSetAttr.Mtime) != 0 ? Time(attr->StMtim, "mtime") : null,
            Atime = (toSet & FuseSetAttr.AtimeNow) != 0 ? now : (toSet & FuseSetAttr.Atime) != 0 ? Time(attr->StAtim, "atime") : null,
            Mode = (toSet & FuseSetAttr.Mode) != 0 ? attr->StMode & 0xFFF : null,
            Uid = (toSet & FuseSetAttr.Uid) != 0 ? attr->StUid : null,
            Gid = (toSet & FuseSetAttr.Gid) != 0 ? attr->StGid : null,
        };
    }

    /// <summary>The open flags the Vfs cares about.</summary>
    public static OpenFlags Decode(int flags)
    {
        var f = (flags & OAccMode) switch
        {
            OWrOnly => OpenFlags.Write,
            ORdWr => OpenFlags.ReadWrite,
            _ => OpenFlags.Read,
        };
        if ((flags & OTrunc) != 0) f |= OpenFlags.Truncate;
        if ((flags & OAppend) != 0) f |= OpenFlags.Append;
        if ((flags & OExcl) != 0) f |= OpenFlags.Exclusive;
        return f;
    }
}
