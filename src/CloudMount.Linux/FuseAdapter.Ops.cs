using CloudMount.Linux.Interop;

namespace CloudMount.Linux;

/// <summary>The table of callbacks handed to fuse_session_new.</summary>
internal sealed partial class FuseAdapter
{
    public static unsafe FuseLowlevelOps CreateOps() => new()
    {
        Init = (nint)(delegate* unmanaged[Cdecl]<nint, FuseConnInfo*, void>)&OnInit,
        Destroy = (nint)(delegate* unmanaged[Cdecl]<nint, void>)&OnDestroy,
        Lookup = (nint)(delegate* unmanaged[Cdecl]<nint, ulong, byte*, void>)&OnLookup,
        Forget = (nint)(delegate* unmanaged[Cdecl]<nint, ulong, ulong, void>)&OnForget,
        ForgetMulti = (nint)(delegate* unmanaged[Cdecl]<nint, nuint, FuseForgetData*, void>)&OnForgetMulti,
        Getattr = (nint)(delegate* unmanaged[Cdecl]<nint, ulong, FuseFileInfo*, void>)&OnGetattr,
        Setattr = (nint)(delegate* unmanaged[Cdecl]<nint, ulong, Stat*, int, FuseFileInfo*, void>)&OnSetattr,
        Mkdir = (nint)(delegate* unmanaged[Cdecl]<nint, ulong, byte*, uint, void>)&OnMkdir,
        Unlink = (nint)(delegate* unmanaged[Cdecl]<nint, ulong, byte*, void>)&OnUnlink,
        Rmdir = (nint)(delegate* unmanaged[Cdecl]<nint, ulong, byte*, void>)&OnRmdir,
        Rename = (nint)(delegate* unmanaged[Cdecl]<nint, ulong, byte*, ulong, byte*, uint, void>)&OnRename,
        Open = (nint)(delegate* unmanaged[Cdecl]<nint, ulong, FuseFileInfo*, void>)&OnOpen,
        Read = (nint)(delegate* unmanaged[Cdecl]<nint, ulong, nuint, long, FuseFileInfo*, void>)&OnRead,
        Write = (nint)(delegate* unmanaged[Cdecl]<nint, ulong, byte*, nuint, long, FuseFileInfo*, void>)&OnWrite,
        Flush = (nint)(delegate* unmanaged[Cdecl]<nint, ulong, FuseFileInfo*, void>)&OnFlush,
        Release = (nint)(delegate* unmanaged[Cdecl]<nint, ulong, FuseFileInfo*, void>)&OnRelease,
        Fsync = (nint)(delegate* unmanaged[Cdecl]<nint, ulong, int, FuseFileInfo*, void>)&OnFsync,
        Opendir = (nint)(delegate* unmanaged[Cdecl]<nint, ulong, FuseFileInfo*, void>)&OnOpendir,
        Readdir = (nint)(delegate* unmanaged[Cdecl]<nint, ulong, nuint, long, FuseFileInfo*, void>)&OnReaddir,
        Readdirplus = (nint)(delegate* unmanaged[Cdecl]<nint, ulong, nuint, long, FuseFileInfo*, void>)&OnReaddirplus,
        Releasedir = (nint)(delegate* unmanaged[Cdecl]<nint, ulong, FuseFileInfo*, void>)&OnReleasedir,
        Fsyncdir = (nint)(delegate* unmanaged[Cdecl]<nint, ulong, int, FuseFileInfo*, void>)&OnFsyncdir,
        Statfs = (nint)(delegate* unmanaged[Cdecl]<nint, ulong, void>)&OnStatfs,
        Create = (nint)(delegate* unmanaged[Cdecl]<nint, ulong, byte*, uint, FuseFileInfo*, void>)&OnCreate,
        Readlink = (nint)(delegate* unmanaged[Cdecl]<nint, ulong, void>)&OnReadlink,
        Symlink = (nint)(delegate* unmanaged[Cdecl]<nint, byte*, ulong, byte*, void>)&OnSymlink,
        Setxattr = (nint)(delegate* unmanaged[Cdecl]<nint, ulong, byte*, byte*, nuint, int, void>)&OnSetxattr,
        Getxattr = (nint)(delegate* unmanaged[Cdecl]<nint, ulong, byte*, nuint, void>)&OnGetxattr,
        Listxattr = (nint)(delegate* unmanaged[Cdecl]<nint, ulong, nuint, void>)&OnListxattr,
        Removexattr = (nint)(delegate* unmanaged[Cdecl]<nint, ulong, byte*, void>)&OnRemovexattr,
    };
}
