using System.Runtime.InteropServices;

namespace CloudMount.Linux.Interop;

// Layouts of libfuse 3.14 and glibc on x86_64 (/usr/include/fuse3, /usr/include/x86_64-linux-gnu/bits/struct_stat.h).
// tests/CloudMount.Tests/Interop/LayoutTests.cs compiles a C program against the real headers and checks every
// size, field offset and bit mask below.

/// <summary><c>struct timespec</c>: seconds and nanoseconds.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct Timespec
{
    public long TvSec;
    public long TvNsec;

    public static Timespec From(CloudMount.Core.Vfs.PosixTime t) => new() { TvSec = t.Seconds, TvNsec = t.Nanoseconds };

    public static Timespec From(DateTimeOffset t)
    {
        long ticks = t.UtcTicks - DateTime.UnixEpoch.Ticks;
        long sec = Math.DivRem(ticks, TimeSpan.TicksPerSecond, out long rem);
        if (rem < 0)
        {
            sec--;
            rem += TimeSpan.TicksPerSecond;
        }
        return new Timespec { TvSec = sec, TvNsec = rem * 100 };
    }

}

/// <summary><c>struct stat</c> of glibc on x86_64 (144 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct Stat
{
    public ulong StDev;
    public ulong StIno;
    public ulong StNlink;
    public uint StMode;
    public uint StUid;
    public uint StGid;
    public int Pad0;
    public ulong StRdev;
    public long StSize;
    public long StBlksize;
    public long StBlocks;
    public Timespec StAtim;
    public Timespec StMtim;
    public Timespec StCtim;
    public long Reserved0;
    public long Reserved1;
    public long Reserved2;
}

/// <summary><c>struct fuse_entry_param</c> (fuse_lowlevel.h).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseEntryParam
{
    public ulong Ino;
    public ulong Generation;
    public Stat Attr;
    public double AttrTimeout;
    public double EntryTimeout;
}

/// <summary>
/// <c>struct fuse_file_info</c> (fuse_common.h). The C bitfields <c>writepage</c> .. <c>noflush</c> share the
/// 32-bit word <see cref="Bits"/>; masks in <see cref="FuseFileInfoBits"/>.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseFileInfo
{
    public int Flags;
    public uint Bits;
    public uint Padding2;
    public ulong Fh;
    public ulong LockOwner;
    public uint PollEvents;
}

/// <summary>Bit masks of the bitfields of <c>struct fuse_file_info</c>, in declaration order from bit 0.</summary>
internal static class FuseFileInfoBits
{
    public const uint WritePage = 1u << 0;
    public const uint DirectIo = 1u << 1;
    public const uint KeepCache = 1u << 2;
    public const uint Flush = 1u << 3;
    public const uint NonSeekable = 1u << 4;
    public const uint FlockRelease = 1u << 5;
    public const uint CacheReaddir = 1u << 6;
    public const uint NoFlush = 1u << 7;
}

/// <summary><c>struct fuse_conn_info</c> (fuse_common.h), passed to init (128 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct FuseConnInfo
{
    public uint ProtoMajor;
    public uint ProtoMinor;
    public uint MaxWrite;
    public uint MaxRead;
    public uint MaxReadahead;
    public uint Capable;
    public uint Want;
    public uint MaxBackground;
    public uint CongestionThreshold;
    public uint TimeGran;
    public fixed uint Reserved[22];
}

/// <summary>Capability bits of <c>fuse_conn_info.capable</c> / <c>want</c> (FUSE_CAP_*).</summary>
internal static class FuseCapabilities
{
    public const uint AsyncRead = 1u << 0;
    public const uint AtomicOTrunc = 1u << 3;
    public const uint ExportSupport = 1u << 4;
    public const uint SpliceWrite = 1u << 7;
    public const uint SpliceMove = 1u << 8;
    public const uint SpliceRead = 1u << 9;
    public const uint AutoInvalData = 1u << 12;
    public const uint ReaddirPlus = 1u << 13;
    public const uint ReaddirPlusAuto = 1u << 14;
    public const uint AsyncDio = 1u << 15;
    public const uint WritebackCache = 1u << 16;
    public const uint ParallelDirops = 1u << 18;
    public const uint HandleKillpriv = 1u << 20;
}

/// <summary><c>struct fuse_args</c> (fuse_opt.h).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseArgs
{
    public int Argc;
    public nint Argv;
    public int Allocated;
}

/// <summary><c>struct fuse_ctx</c>: who made a request.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseCtx
{
    public uint Uid;
    public uint Gid;
    public int Pid;
    public uint Umask;
}

/// <summary><c>struct fuse_forget_data</c>, the elements of forget_multi.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseForgetData
{
    public ulong Ino;
    public ulong Nlookup;
}

/// <summary><c>struct statvfs</c> of glibc on x86_64 (112 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct Statvfs
{
    public ulong FBsize;
    public ulong FFrsize;
    public ulong FBlocks;
    public ulong FBfree;
    public ulong FBavail;
    public ulong FFiles;
    public ulong FFfree;
    public ulong FFavail;
    public ulong FFsid;
    public ulong FFlag;
    public ulong FNamemax;
    public fixed int Spare[6];
}

/// <summary>
/// <c>struct fuse_lowlevel_ops</c>: 44 function pointers in header order. Unset entries stay null, for which
/// libfuse answers ENOSYS (or its documented default).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseLowlevelOps
{
    public nint Init;
    public nint Destroy;
    public nint Lookup;
    public nint Forget;
    public nint Getattr;
    public nint Setattr;
    public nint Readlink;
    public nint Mknod;
    public nint Mkdir;
    public nint Unlink;
    public nint Rmdir;
    public nint Symlink;
    public nint Rename;
    public nint Link;
    public nint Open;
    public nint Read;
    public nint Write;
    public nint Flush;
    public nint Release;
    public nint Fsync;
    public nint Opendir;
    public nint Readdir;
    public nint Releasedir;
    public nint Fsyncdir;
    public nint Statfs;
    public nint Setxattr;
    public nint Getxattr;
    public nint Listxattr;
    public nint Removexattr;
    public nint Access;
    public nint Create;
    public nint Getlk;
    public nint Setlk;
    public nint Bmap;
    public nint Ioctl;
    public nint Poll;
    public nint WriteBuf;
    public nint RetrieveReply;
    public nint ForgetMulti;
    public nint Flock;
    public nint Fallocate;
    public nint Readdirplus;
    public nint CopyFileRange;
    public nint Lseek;
}

/// <summary>Bits of setattr's <c>to_set</c> (FUSE_SET_ATTR_*).</summary>
internal static class FuseSetAttr
{
    public const int Mode = 1 << 0;
    public const int Uid = 1 << 1;
    public const int Gid = 1 << 2;
    public const int Size = 1 << 3;
    public const int Atime = 1 << 4;
    public const int Mtime = 1 << 5;
    public const int AtimeNow = 1 << 7;
    public const int MtimeNow = 1 << 8;
    public const int Ctime = 1 << 10;
}

/// <summary><c>struct fuse_buf</c> (fuse_common.h, libfuse 3.14): memory, or a descriptor with a position.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseBuf
{
    /// <summary>FUSE_BUF_IS_FD: <see cref="Fd"/> holds the data.</summary>
    public const int IsFd = 1 << 1;

    /// <summary>FUSE_BUF_FD_SEEK: read at <see cref="Pos"/> (pread), not at the descriptor's offset.</summary>
    public const int FdSeek = 1 << 2;

    public nuint Size;
    public int Flags;
    public nint Mem;
    public int Fd;
    public long Pos;
}

/// <summary><c>struct fuse_bufvec</c> with its one buffer.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseBufvec
{
    public nuint Count;
    public nuint Idx;
    public nuint Off;
    public FuseBuf Buf0;
}

/// <summary><c>struct iovec</c>: one buffer of a gathered reply.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct Iovec
{
    public nint Base;
    public nuint Length;
}
