using System.Runtime.InteropServices;

namespace CloudMount.Linux.Interop;

/// <summary>
/// P/Invoke declarations of libfuse3's lowlevel API (fuse_lowlevel.h, libfuse 3.14, soname libfuse3.so.3).
/// Unless noted, functions returning int return 0 on success and a negated errno on failure.
/// Reply functions may be called from any thread, once per request.
/// </summary>
internal static unsafe partial class Libfuse
{
    private const string Lib = "libfuse3.so.3";

    // ---- session ----

    /// <summary>Creates a session from "-o" options in <paramref name="args"/>; null on error (printed to stderr).</summary>
    [LibraryImport(Lib, EntryPoint = "fuse_session_new")]
    public static partial nint SessionNew(FuseArgs* args, FuseLowlevelOps* ops, nuint opSize, nint userdata);

    /// <summary>Mounts the session at <paramref name="mountpoint"/>. Returns 0 on success, -1 on failure.</summary>
    [LibraryImport(Lib, EntryPoint = "fuse_session_mount", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int SessionMount(nint session, string mountpoint);

    /// <summary>
    /// Runs the multi-threaded loop until the session ends (unmount or <see cref="SessionExit"/>). This is the
    /// FUSE_3.12 version taking the opaque <c>struct fuse_loop_config</c> of <see cref="LoopCfgCreate"/>.
    /// Returns 0 on a normal end.
    /// </summary>
    [LibraryImport(Lib, EntryPoint = "fuse_session_loop_mt_312")]
    public static partial int SessionLoopMt(nint session, nint config);

    /// <summary>Marks the session as ended; the loop stops at its next request.</summary>
    [LibraryImport(Lib, EntryPoint = "fuse_session_exit")]
    public static partial void SessionExit(nint session);

    /// <summary>Unmounts if still mounted and closes the device fd. Call only after the loop has returned.</summary>
    [LibraryImport(Lib, EntryPoint = "fuse_session_unmount")]
    public static partial void SessionUnmount(nint session);

    /// <summary>Frees the session.</summary>
    [LibraryImport(Lib, EntryPoint = "fuse_session_destroy")]
    public static partial void SessionDestroy(nint session);

    /// <summary>Creates a loop configuration (FUSE_3.12); null on allocation failure.</summary>
    [LibraryImport(Lib, EntryPoint = "fuse_loop_cfg_create")]
    public static partial nint LoopCfgCreate();

    /// <summary>Frees a loop configuration.</summary>
    [LibraryImport(Lib, EntryPoint = "fuse_loop_cfg_destroy")]
    public static partial void LoopCfgDestroy(nint config);

    /// <summary>Sets how many idle worker threads the loop keeps.</summary>
    [LibraryImport(Lib, EntryPoint = "fuse_loop_cfg_set_idle_threads")]
    public static partial void LoopCfgSetIdleThreads(nint config, uint value);

    /// <summary>Sets the most worker threads the loop starts. Returns 0, or -1 for an invalid value.</summary>
    [LibraryImport(Lib, EntryPoint = "fuse_loop_cfg_set_max_threads")]
    public static partial int LoopCfgSetMaxThreads(nint config, uint value);

    // ---- requests ----

    /// <summary>The userdata given to <see cref="SessionNew"/>.</summary>
    [LibraryImport(Lib, EntryPoint = "fuse_req_userdata")]
    public static partial nint ReqUserdata(nint req);

    /// <summary>Who made the request.</summary>
    [LibraryImport(Lib, EntryPoint = "fuse_req_ctx")]
    public static partial FuseCtx* ReqCtx(nint req);

    /// <summary>
    /// Registers <paramref name="func"/> (a <c>void (*)(fuse_req_t, void *)</c>) to be called when the kernel
    /// interrupts the request; called at once if it already has. libfuse may still call it shortly after the reply
    /// (it reads the pointer under its own lock), so <paramref name="data"/> must stay meaningful: we pass an id,
    /// never a pointer.
    /// </summary>
    [LibraryImport(Lib, EntryPoint = "fuse_req_interrupt_func")]
    public static partial void ReqInterruptFunc(nint req, nint func, nint data);

    // ---- replies ----

    /// <summary>Replies with an error (positive errno) or 0 for success.</summary>
    [LibraryImport(Lib, EntryPoint = "fuse_reply_err")]
    public static partial int ReplyErr(nint req, int err);

    /// <summary>Ends a request that takes no reply (forget).</summary>
    [LibraryImport(Lib, EntryPoint = "fuse_reply_none")]
    public static partial void ReplyNone(nint req);

    /// <summary>Replies to lookup, mkdir, mknod, symlink, link.</summary>
    [LibraryImport(Lib, EntryPoint = "fuse_reply_entry")]
    public static partial int ReplyEntry(nint req, FuseEntryParam* e);

    /// <summary>Replies to create.</summary>
    [LibraryImport(Lib, EntryPoint = "fuse_reply_create")]
    public static partial int ReplyCreate(nint req, FuseEntryParam* e, FuseFileInfo* fi);

    /// <summary>Replies to getattr and setattr; <paramref name="attrTimeout"/> in seconds.</summary>
    [LibraryImport(Lib, EntryPoint = "fuse_reply_attr")]
    public static partial int ReplyAttr(nint req, Stat* attr, double attrTimeout);

    /// <summary>Replies to open and opendir.</summary>
    [LibraryImport(Lib, EntryPoint = "fuse_reply_open")]
    public static partial int ReplyOpen(nint req, FuseFileInfo* fi);

    /// <summary>Replies to write with the byte count written.</summary>
    [LibraryImport(Lib, EntryPoint = "fuse_reply_write")]
    public static partial int ReplyWrite(nint req, nuint count);

    /// <summary>Replies with data (read, readdir). The buffer is copied before the call returns.</summary>
    [LibraryImport(Lib, EntryPoint = "fuse_reply_buf")]
    public static partial int ReplyBuf(nint req, byte* buf, nuint size);

    /// <summary>Replies with data gathered from <paramref name="count"/> buffers (readv-style); copied before the call returns.</summary>
    [LibraryImport(Lib, EntryPoint = "fuse_reply_iov")]
    public static partial int ReplyIov(nint req, Iovec* iov, int count);

    /// <summary>
    /// Replies with the data of <paramref name="bufv"/>: from a descriptor, libfuse splices the pages through a pipe
    /// to the kernel when the connection wants FUSE_CAP_SPLICE_WRITE (else reads them into a buffer and writes that).
    /// The descriptor is read before the call returns.
    /// </summary>
    [LibraryImport(Lib, EntryPoint = "fuse_reply_data")]
    public static partial int ReplyData(nint req, FuseBufvec* bufv, int flags);

    /// <summary>Replies to getxattr/listxattr asked with size 0: the size the value (or name list) needs.</summary>
    [LibraryImport(Lib, EntryPoint = "fuse_reply_xattr")]
    public static partial int ReplyXattr(nint req, nuint count);

    /// <summary>Replies to readlink with the target (a NUL-terminated string).</summary>
    [LibraryImport(Lib, EntryPoint = "fuse_reply_readlink")]
    public static partial int ReplyReadlink(nint req, byte* link);

    /// <summary>Replies to statfs.</summary>
    [LibraryImport(Lib, EntryPoint = "fuse_reply_statfs")]
    public static partial int ReplyStatfs(nint req, Statvfs* stbuf);

    /// <summary>
    /// Adds a readdir entry to <paramref name="buf"/>. Returns the entry's size; if that exceeds
    /// <paramref name="bufsize"/> nothing was written.
    /// </summary>
    [LibraryImport(Lib, EntryPoint = "fuse_add_direntry")]
    public static partial nuint AddDirentry(nint req, byte* buf, nuint bufsize, byte* name, Stat* stbuf, long off);

    /// <summary>As <see cref="AddDirentry"/> for readdirplus; an added entry takes one lookup reference.</summary>
    [LibraryImport(Lib, EntryPoint = "fuse_add_direntry_plus")]
    public static partial nuint AddDirentryPlus(nint req, byte* buf, nuint bufsize, byte* name, FuseEntryParam* e, long off);

    /// <summary>Tells the kernel to drop cached data and attributes of an inode. Returns 0 or -errno.</summary>
    [LibraryImport(Lib, EntryPoint = "fuse_lowlevel_notify_inval_inode")]
    public static partial int NotifyInvalInode(nint session, ulong ino, long off, long len);
}

internal static unsafe partial class Libfuse
{
    /// <summary>Frees the argument vector of <paramref name="args"/> if libfuse owns it (<c>allocated</c> set).</summary>
    [LibraryImport(Lib, EntryPoint = "fuse_opt_free_args")]
    public static partial void OptFreeArgs(FuseArgs* args);
}
