using CloudMount.Core;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using CloudMount.Core.Vfs;
using CloudMount.Linux.Interop;
using Microsoft.Extensions.Logging;

namespace CloudMount.Linux;

/// <summary>
/// The lowlevel FUSE operations: static <c>[UnmanagedCallersOnly]</c> callbacks that copy what they need from
/// the request, start the Vfs operation and return at once. The reply is sent from the operation's
/// continuation, so no libfuse worker thread ever waits on the network. Each callback catches every exception
/// and answers with an errno from <see cref="FuseErrorMap"/>.
/// </summary>
internal sealed partial class FuseAdapter
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

    private readonly CloudFileSystem _fs;
    private readonly ILogger _logger;
    private readonly CancellationToken _shutdown;
    private readonly FuseTuning _tuning;

    public FuseAdapter(CloudFileSystem fs, FuseTuning tuning, ILogger logger, CancellationToken shutdown)
    {
        _fs = fs;
        _tuning = tuning;
        _logger = logger;
        _shutdown = shutdown;
    }

    /// <summary>Completes when the kernel's INIT has been answered (the mount is usable).</summary>
    public TaskCompletionSource Initialized { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>What the kernel and we agreed on in INIT, for a log line.</summary>
    public string? Negotiated { get; private set; }

    /// <summary>The table of callbacks handed to fuse_session_new.</summary>
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

    // ------------------------------------------------------------------ plumbing

    private static FuseAdapter From(nint userdata) => (FuseAdapter)GCHandle.FromIntPtr(userdata).Target!;

    private static FuseAdapter Of(nint req) => From(Libfuse.ReqUserdata(req));

    private static unsafe string Utf8(byte* s) => Marshal.PtrToStringUTF8((nint)s) ?? "";

    /// <summary>Runs an operation to its reply; any exception becomes an error reply.</summary>
    private async void Run(nint req, ValueTask operation, string what)
    {
        try
        {
            await operation.ConfigureAwait(false);
        }
        catch (Exception e)
        {
            ReplyError(req, e, what);
        }
    }

    private void ReplyError(nint req, Exception e, string what)
    {
        var error = FileSystemException.Classify(e);
        if (error == FsError.Io)
        {
            _logger.LogWarning("{Operation}: {Error}", what, e.Message);
        }
        else
        {
            _logger.LogDebug("{Operation}: {Error} ({Message})", what, error, e.Message);
        }
        Libfuse.ReplyErr(req, FuseErrorMap.ToErrno(error));
    }

    /// <summary>Guards a callback body: an exception here (before the operation started) still gets a reply.</summary>
    private static void Guard(nint req, string what, Action<FuseAdapter> body)
    {
        FuseAdapter? a = null;
        try
        {
            a = Of(req);
            body(a);
        }
        catch (Exception e)
        {
            if (a is not null) a.ReplyError(req, e, what);
            else Libfuse.ReplyErr(req, Errno.EIO);
        }
    }

    private static void Fill(ref Stat st, in NodeAttributes a)
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

    private static void Fill(ref FuseEntryParam e, in EntryReply r)
    {
        e = default;
        e.Ino = r.Attributes.Ino;
        Fill(ref e.Attr, r.Attributes);
        e.AttrTimeout = r.AttrTimeout;
        e.EntryTimeout = r.EntryTimeout;
    }

    private static unsafe void ReplyEntry(nint req, in EntryReply r)
    {
        FuseEntryParam e = default;
        Fill(ref e, r);
        Libfuse.ReplyEntry(req, &e);
    }

    private static unsafe void ReplyOpen(nint req, in OpenReply r)
    {
        FuseFileInfo fi = default;
        fi.Fh = r.Handle;
        if (r.KeepCache) fi.Bits |= FuseFileInfoBits.KeepCache;
        if (r.DirectIo) fi.Bits |= FuseFileInfoBits.DirectIo;
        Libfuse.ReplyOpen(req, &fi);
    }

    private static OpenFlags Decode(int flags)
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

    // ------------------------------------------------------------------ init / destroy

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnInit(nint userdata, FuseConnInfo* conn)
    {
        try
        {
            var a = From(userdata);
            uint want = FuseCapabilities.AsyncRead | FuseCapabilities.AtomicOTrunc | FuseCapabilities.ParallelDirops
                      | FuseCapabilities.ReaddirPlus | FuseCapabilities.AutoInvalData | FuseCapabilities.AsyncDio;
            conn->Want |= want & conn->Capable;
            // Always readdirplus: `ls -l` then needs no lookup per entry.
            conn->Want &= ~FuseCapabilities.ReaddirPlusAuto;
            conn->Want &= ~FuseCapabilities.WritebackCache;
            conn->MaxReadahead = Math.Min(conn->MaxReadahead, a._tuning.MaxReadaheadBytes);
            conn->MaxBackground = a._tuning.MaxBackground;
            conn->CongestionThreshold = a._tuning.MaxBackground * 3 / 4;
            a.Negotiated = $"protocol {conn->ProtoMajor}.{conn->ProtoMinor}, max_write {conn->MaxWrite}, max_readahead {conn->MaxReadahead}, capable 0x{conn->Capable:x}, want 0x{conn->Want:x}";
            a.Initialized.TrySetResult();
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"cloudmount: init failed: {e.Message}");
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnDestroy(nint userdata)
    {
    }

    // ------------------------------------------------------------------ names

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnLookup(nint req, ulong parent, byte* name)
    {
        string n = Utf8(name);
        Guard(req, "lookup", a => a.Run(req, a.LookupAsync(req, parent, n), "lookup " + n));
    }

    private async ValueTask LookupAsync(nint req, ulong parent, string name)
    {
        EntryReply r;
        try
        {
            r = await _fs.LookupAsync(parent, name, _shutdown).ConfigureAwait(false);
        }
        catch (FileSystemException e) when (e.Error == FsError.NotFound && _fs.NegativeTimeoutSeconds > 0)
        {
            ReplyNegativeEntry(req, _fs.NegativeTimeoutSeconds);
            return;
        }
        ReplyEntry(req, r);
    }

    /// <summary>A zero inode is a negative entry the kernel caches for <paramref name="timeout"/> seconds.</summary>
    private static unsafe void ReplyNegativeEntry(nint req, double timeout)
    {
        FuseEntryParam neg = default;
        neg.EntryTimeout = timeout;
        Libfuse.ReplyEntry(req, &neg);
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnForget(nint req, ulong ino, ulong nlookup)
    {
        try
        {
            Of(req)._fs.Forget(ino, nlookup);
        }
        catch (Exception)
        {
            // Forget takes no error reply.
        }
        Libfuse.ReplyNone(req);
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnForgetMulti(nint req, nuint count, FuseForgetData* forgets)
    {
        try
        {
            var fs = Of(req)._fs;
            for (nuint i = 0; i < count; i++)
            {
                fs.Forget(forgets[i].Ino, forgets[i].Nlookup);
            }
        }
        catch (Exception)
        {
            // Forget takes no error reply.
        }
        Libfuse.ReplyNone(req);
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnGetattr(nint req, ulong ino, FuseFileInfo* fi)
    {
        Guard(req, "getattr", a => a.Run(req, a.GetattrAsync(req, ino), "getattr"));
    }

    private async ValueTask GetattrAsync(nint req, ulong ino)
    {
        var attrs = await _fs.GetAttrAsync(ino, _shutdown).ConfigureAwait(false);
        ReplyAttr(req, attrs);
    }

    private unsafe void ReplyAttr(nint req, in NodeAttributes attrs)
    {
        Stat st = default;
        Fill(ref st, attrs);
        Libfuse.ReplyAttr(req, &st, _fs.AttrTimeoutSeconds);
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnSetattr(nint req, ulong ino, Stat* attr, int toSet, FuseFileInfo* fi)
    {
        var now = DateTimeOffset.UtcNow;
        var changes = new SetAttributes
        {
            Size = (toSet & FuseSetAttr.Size) != 0 ? attr->StSize : null,
            Mtime = (toSet & FuseSetAttr.MtimeNow) != 0 ? now : (toSet & FuseSetAttr.Mtime) != 0 ? attr->StMtim.ToDateTimeOffset() : null,
            Atime = (toSet & FuseSetAttr.AtimeNow) != 0 ? now : (toSet & FuseSetAttr.Atime) != 0 ? attr->StAtim.ToDateTimeOffset() : null,
            Mode = (toSet & FuseSetAttr.Mode) != 0 ? attr->StMode & 0xFFF : null,
            Uid = (toSet & FuseSetAttr.Uid) != 0 ? attr->StUid : null,
            Gid = (toSet & FuseSetAttr.Gid) != 0 ? attr->StGid : null,
        };
        ulong? fh = fi is null ? null : fi->Fh;
        Guard(req, "setattr", a => a.Run(req, a.SetattrAsync(req, ino, changes, fh), "setattr"));
    }

    private async ValueTask SetattrAsync(nint req, ulong ino, SetAttributes changes, ulong? fh)
    {
        var attrs = await _fs.SetAttrAsync(ino, changes, fh, _shutdown).ConfigureAwait(false);
        ReplyAttr(req, attrs);
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnMkdir(nint req, ulong parent, byte* name, uint mode)
    {
        string n = Utf8(name);
        Guard(req, "mkdir", a => a.Run(req, a.MkdirAsync(req, parent, n), "mkdir " + n));
    }

    private async ValueTask MkdirAsync(nint req, ulong parent, string name) =>
        ReplyEntry(req, await _fs.MkdirAsync(parent, name, _shutdown).ConfigureAwait(false));

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnUnlink(nint req, ulong parent, byte* name)
    {
        string n = Utf8(name);
        Guard(req, "unlink", a => a.Run(req, a.ReplyOk(req, a._fs.UnlinkAsync(parent, n, a._shutdown)), "unlink " + n));
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnRmdir(nint req, ulong parent, byte* name)
    {
        string n = Utf8(name);
        Guard(req, "rmdir", a => a.Run(req, a.ReplyOk(req, a._fs.RmdirAsync(parent, n, a._shutdown)), "rmdir " + n));
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnRename(nint req, ulong parent, byte* name, ulong newParent, byte* newName, uint flags)
    {
        string n = Utf8(name), nn = Utf8(newName);
        var f = RenameFlags.None;
        if ((flags & 1) != 0) f |= RenameFlags.NoReplace;
        if ((flags & 2) != 0) f |= RenameFlags.Exchange;
        Guard(req, "rename", a => a.Run(req, a.ReplyOk(req, a._fs.RenameAsync(parent, n, newParent, nn, f, a._shutdown)), $"rename {n} {nn}"));
    }

    private async ValueTask ReplyOk(nint req, ValueTask operation)
    {
        await operation.ConfigureAwait(false);
        Libfuse.ReplyErr(req, 0);
    }

    // ------------------------------------------------------------------ files

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnOpen(nint req, ulong ino, FuseFileInfo* fi)
    {
        var flags = Decode(fi->Flags);
        Guard(req, "open", a => a.Run(req, a.OpenAsync(req, ino, flags), "open"));
    }

    private async ValueTask OpenAsync(nint req, ulong ino, OpenFlags flags) =>
        ReplyOpen(req, await _fs.OpenAsync(ino, flags, _shutdown).ConfigureAwait(false));

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnCreate(nint req, ulong parent, byte* name, uint mode, FuseFileInfo* fi)
    {
        string n = Utf8(name);
        var flags = Decode(fi->Flags);
        Guard(req, "create", a => a.Run(req, a.CreateAsync(req, parent, n, flags), "create " + n));
    }

    private async ValueTask CreateAsync(nint req, ulong parent, string name, OpenFlags flags)
    {
        var (entry, open) = await _fs.CreateAsync(parent, name, flags, _shutdown).ConfigureAwait(false);
        ReplyCreate(req, entry, open);
    }

    private static unsafe void ReplyCreate(nint req, in EntryReply entry, in OpenReply open)
    {
        FuseEntryParam e = default;
        Fill(ref e, entry);
        FuseFileInfo fi = default;
        fi.Fh = open.Handle;
        Libfuse.ReplyCreate(req, &e, &fi);
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnRead(nint req, ulong ino, nuint size, long off, FuseFileInfo* fi)
    {
        ulong fh = fi->Fh;
        Guard(req, "read", a => a.Run(req, a.ReadAsync(req, fh, (int)size, off), "read"));
    }

    private async ValueTask ReadAsync(nint req, ulong fh, int size, long off)
    {
        using var lease = await _fs.LeaseAsync(fh, off, size, _shutdown).ConfigureAwait(false);
        ReplyLease(req, lease);
    }

    /// <summary>Replies with the lease's segments, gathered by the kernel, without copying them first.</summary>
    private static unsafe void ReplyLease(nint req, Core.Reading.ReadLease lease)
    {
        var segments = lease.Segments;
        Span<Iovec> iov = stackalloc Iovec[Math.Max(1, segments.Count)];
        var pins = new System.Buffers.MemoryHandle[segments.Count];
        try
        {
            for (int i = 0; i < segments.Count; i++)
            {
                pins[i] = segments[i].AsMemory().Pin();
                iov[i].Base = (nint)pins[i].Pointer;
                iov[i].Length = (nuint)segments[i].Count;
            }
            fixed (Iovec* p = iov)
            {
                Libfuse.ReplyIov(req, p, segments.Count);
            }
        }
        finally
        {
            foreach (var pin in pins) pin.Dispose();
        }
    }

    private static unsafe void ReplyBuf(nint req, ReadOnlySpan<byte> data)
    {
        fixed (byte* p = data)
        {
            Libfuse.ReplyBuf(req, p, (nuint)data.Length);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnWrite(nint req, ulong ino, byte* buf, nuint size, long off, FuseFileInfo* fi)
    {
        ulong fh = fi->Fh;
        int n = (int)size;
        // The kernel's buffer is only valid during this call: copy it before going asynchronous.
        var copy = BufferPool.Shared.Rent(n);
        new ReadOnlySpan<byte>(buf, n).CopyTo(copy.AsSpan());
        Guard(req, "write", a => a.Run(req, a.WriteAsync(req, fh, copy, n, off), "write"));
    }

    private async ValueTask WriteAsync(nint req, ulong fh, ArraySegment<byte> data, int count, long off)
    {
        try
        {
            int n = await _fs.WriteAsync(fh, off, data.AsMemory(0, count), _shutdown).ConfigureAwait(false);
            Libfuse.ReplyWrite(req, (nuint)n);
        }
        finally
        {
            BufferPool.Shared.Return(data);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnFlush(nint req, ulong ino, FuseFileInfo* fi)
    {
        ulong fh = fi->Fh;
        Guard(req, "flush", a => a.Run(req, a.ReplyOk(req, a._fs.FlushAsync(fh, CancellationToken.None)), "flush"));
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnFsync(nint req, ulong ino, int datasync, FuseFileInfo* fi)
    {
        ulong fh = fi->Fh;
        Guard(req, "fsync", a => a.Run(req, a.ReplyOk(req, a._fs.FsyncAsync(fh, CancellationToken.None)), "fsync"));
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnRelease(nint req, ulong ino, FuseFileInfo* fi)
    {
        ulong fh = fi->Fh;
        Guard(req, "release", a => a.Run(req, a.ReplyOk(req, a._fs.ReleaseAsync(fh)), "release"));
    }

    // ------------------------------------------------------------------ directories

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnOpendir(nint req, ulong ino, FuseFileInfo* fi)
    {
        Guard(req, "opendir", a => ReplyOpen(req, new OpenReply(a._fs.OpenDir(ino), false, false)));
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnReleasedir(nint req, ulong ino, FuseFileInfo* fi)
    {
        ulong fh = fi->Fh;
        Guard(req, "releasedir", a =>
        {
            a._fs.ReleaseDir(fh);
            Libfuse.ReplyErr(req, 0);
        });
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnFsyncdir(nint req, ulong ino, int datasync, FuseFileInfo* fi)
    {
        Libfuse.ReplyErr(req, 0);
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnReaddir(nint req, ulong ino, nuint size, long off, FuseFileInfo* fi)
    {
        ulong fh = fi->Fh;
        Guard(req, "readdir", a => a.Run(req, a.ReaddirAsync(req, ino, fh, (int)size, off, plus: false), "readdir"));
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnReaddirplus(nint req, ulong ino, nuint size, long off, FuseFileInfo* fi)
    {
        ulong fh = fi->Fh;
        Guard(req, "readdirplus", a => a.Run(req, a.ReaddirAsync(req, ino, fh, (int)size, off, plus: true), "readdirplus"));
    }

    private async ValueTask ReaddirAsync(nint req, ulong ino, ulong fh, int size, long off, bool plus)
    {
        using var writer = new DirentWriter(req, size, plus, _fs.AttrTimeoutSeconds);
        await _fs.ReadDirAsync(ino, fh, off, plus, writer.TryAdd, _shutdown).ConfigureAwait(false);
        writer.Reply();
    }

    /// <summary>Packs entries into a readdir reply buffer with fuse_add_direntry(_plus).</summary>
    private sealed unsafe class DirentWriter(nint req, int size, bool plus, double timeout) : IDisposable
    {
        private readonly byte* buffer = (byte*)NativeMemory.Alloc((nuint)size);

        public int Used { get; private set; }

        public void Reply() => Libfuse.ReplyBuf(req, buffer, (nuint)Used);

        public void Dispose() => NativeMemory.Free(buffer);

        public bool TryAdd(in DirectoryEntry entry)
        {
            int max = Encoding.UTF8.GetMaxByteCount(entry.Name.Length) + 1;
            Span<byte> name = max <= 1024 ? stackalloc byte[max] : new byte[max];
            int len = Encoding.UTF8.GetBytes(entry.Name, name);
            name[len] = 0;
            nuint remaining = (nuint)(size - Used);
            nuint needed;
            fixed (byte* n = name)
            {
                if (plus)
                {
                    FuseEntryParam e = default;
                    Fill(ref e, new EntryReply(entry.Attributes, timeout, timeout));
                    needed = Libfuse.AddDirentryPlus(req, buffer + Used, remaining, n, &e, entry.NextOffset);
                }
                else
                {
                    Stat st = default;
                    Fill(ref st, entry.Attributes);
                    needed = Libfuse.AddDirentry(req, buffer + Used, remaining, n, &st, entry.NextOffset);
                }
            }
            if (needed > remaining)
            {
                return false;
            }
            Used += (int)needed;
            return true;
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnStatfs(nint req, ulong ino)
    {
        var s = CloudFileSystem.StatFs();
        Statvfs v = default;
        v.FBsize = s.BlockSize;
        v.FFrsize = s.BlockSize;
        v.FBlocks = s.Blocks;
        v.FBfree = s.FreeBlocks;
        v.FBavail = s.FreeBlocks;
        v.FFiles = s.Files;
        v.FFfree = s.FreeFiles;
        v.FFavail = s.FreeFiles;
        v.FNamemax = s.NameMax;
        Libfuse.ReplyStatfs(req, &v);
    }
}

/// <summary>Kernel-side tuning negotiated at INIT.</summary>
/// <param name="MaxReadaheadBytes">Largest kernel read-ahead per file, in bytes.</param>
/// <param name="MaxBackground">Asynchronous requests (read-ahead) the kernel may have in flight.</param>
public sealed record FuseTuning(uint MaxReadaheadBytes = 1 << 20, uint MaxBackground = 64);
