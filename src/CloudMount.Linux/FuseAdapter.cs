using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using CloudMount.Core.Vfs;
using CloudMount.Linux.Interop;
using Microsoft.Extensions.Logging;

namespace CloudMount.Linux;

/// <summary>
/// The lowlevel FUSE operations: static <c>[UnmanagedCallersOnly]</c> callbacks that register a
/// <see cref="FuseRequest"/>, convert their arguments inside its guard, start the Vfs operation and return at
/// once. The reply is sent from the operation's continuation, so no libfuse worker thread ever waits on the
/// network. No exception leaves a callback: a bad argument or a failed operation is an errno from
/// <see cref="FuseErrorMap"/>, and an operation that ends without replying is answered EIO.
/// </summary>
internal sealed partial class FuseAdapter
{
    private readonly CloudFileSystem _fs;
    private readonly ILogger _logger;
    private readonly FuseTuning _tuning;

    public FuseAdapter(CloudFileSystem fs, FuseTuning tuning, ILogger logger)
    {
        _fs = fs;
        _tuning = tuning;
        _logger = logger;
        Requests = new FuseRequests(logger);
    }

    /// <summary>The requests in flight and the reply gate.</summary>
    public FuseRequests Requests { get; }

    /// <summary>Completes when the kernel's INIT has been answered (the mount is usable).</summary>
    public TaskCompletionSource Initialized { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>What the kernel and we agreed on in INIT, for a log line.</summary>
    public string? Negotiated { get; private set; }

    // ------------------------------------------------------------------ plumbing

    private static FuseAdapter From(nint userdata) => (FuseAdapter)GCHandle.FromIntPtr(userdata).Target!;

    private static unsafe string Utf8(byte* s) => Marshal.PtrToStringUTF8((nint)s) ?? "";

    /// <summary>
    /// Registers the request. False when even that failed (the adapter is gone); the request is then answered
    /// EIO directly, so the kernel never waits for it.
    /// </summary>
    private static bool Begin(nint req, string what, out FuseAdapter adapter, out FuseRequest request)
    {
        try
        {
            adapter = From(Libfuse.ReqUserdata(req));
            request = adapter.Requests.Begin(req, what);
            return true;
        }
        catch (Exception)
        {
            Libfuse.ReplyErr(req, Errno.EIO);
            adapter = null!;
            request = null!;
            return false;
        }
    }

    /// <summary>Runs an operation to its reply; whatever it throws becomes the error reply, and one that never replied gets EIO.</summary>
    private void Run(FuseRequest r, ValueTask operation) => _ = RunAsync(r, operation);

    private async Task RunAsync(FuseRequest r, ValueTask operation)
    {
        try
        {
            await operation.ConfigureAwait(false);
        }
        catch (Exception e)
        {
            r.Fail(e);
        }
        finally
        {
            if (!r.Replied)
            {
                _logger.LogError("{Operation} ended without a reply; answering EIO", r.What);
                r.ReplyErr(Errno.EIO);
            }
        }
    }

    /// <summary>Replies with an entry; if the kernel did not take it, gives back the lookup reference it carried.</summary>
    private unsafe void ReplyEntry(FuseRequest r, in EntryReply reply)
    {
        FuseEntryParam e = default;
        FuseStat.Fill(ref e, reply);
        if (r.ReplyEntry(&e) != 0) _fs.Forget(reply.Attributes.Ino, 1);
    }

    private unsafe void ReplyAttr(FuseRequest r, in NodeAttributes attrs)
    {
        Stat st = default;
        FuseStat.Fill(ref st, attrs);
        r.ReplyAttr(&st, _fs.AttrTimeoutSeconds);
    }

    /// <summary>Who asks to create a node, with the permission bits asked for (the kernel applied the umask).</summary>
    private static unsafe NodeCreation Caller(FuseRequest r, uint mode)
    {
        var c = Libfuse.ReqCtx(r.Req);
        return new NodeCreation(mode & 0xFFF, c->Uid, c->Gid);
    }

    private async ValueTask ReplyOk(FuseRequest r, ValueTask operation)
    {
        await operation.ConfigureAwait(false);
        r.ReplyErr(0);
    }

    // ------------------------------------------------------------------ init / destroy

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnInit(nint userdata, FuseConnInfo* conn)
    {
        try
        {
            var a = From(userdata);
            uint want = FuseCapabilities.AsyncRead | FuseCapabilities.AtomicOTrunc | FuseCapabilities.ParallelDirops
                      | FuseCapabilities.ReaddirPlus | FuseCapabilities.AutoInvalData | FuseCapabilities.AsyncDio
                      // Replies from a cache file's descriptor are spliced (fuse_reply_data).
                      | FuseCapabilities.SpliceWrite;
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
            try
            {
                Console.Error.WriteLine($"cloudmount: init failed: {e.Message}");
            }
            catch (Exception)
            {
                // Nothing may leave a callback.
            }
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnDestroy(nint userdata)
    {
    }

    // ------------------------------------------------------------------ names and attributes

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnLookup(nint req, ulong parent, byte* name)
    {
        if (!Begin(req, "lookup", out var a, out var r)) return;
        try
        {
            string n = Utf8(name);
            r.What = "lookup " + n;
            a.Run(r, a.LookupAsync(r, parent, n));
        }
        catch (Exception e)
        {
            r.Fail(e);
        }
    }

    private async ValueTask LookupAsync(FuseRequest r, ulong parent, string name)
    {
        EntryReply reply;
        try
        {
            reply = await _fs.LookupAsync(parent, name, r.Token).ConfigureAwait(false);
        }
        catch (FileSystemException e) when (e.Error == FsError.NotFound && _fs.NegativeTimeoutSeconds > 0)
        {
            ReplyNegativeEntry(r, _fs.NegativeTimeoutSeconds);
            return;
        }
        ReplyEntry(r, reply);
    }

    /// <summary>A zero inode is a negative entry the kernel caches for <paramref name="timeout"/> seconds.</summary>
    private static unsafe void ReplyNegativeEntry(FuseRequest r, double timeout)
    {
        FuseEntryParam neg = default;
        neg.EntryTimeout = timeout;
        r.ReplyEntry(&neg);
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnForget(nint req, ulong ino, ulong nlookup)
    {
        if (!Begin(req, "forget", out var a, out var r)) return;
        try
        {
            a._fs.Forget(ino, nlookup);
        }
        catch (Exception e)
        {
            a._logger.LogWarning("forget: {Error}", e.Message);
        }
        r.ReplyNone();
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnForgetMulti(nint req, nuint count, FuseForgetData* forgets)
    {
        if (!Begin(req, "forget", out var a, out var r)) return;
        try
        {
            for (nuint i = 0; i < count; i++) a._fs.Forget(forgets[i].Ino, forgets[i].Nlookup);
        }
        catch (Exception e)
        {
            a._logger.LogWarning("forget: {Error}", e.Message);
        }
        r.ReplyNone();
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnGetattr(nint req, ulong ino, FuseFileInfo* fi)
    {
        if (!Begin(req, "getattr", out var a, out var r)) return;
        try
        {
            a.Run(r, a.GetattrAsync(r, ino));
        }
        catch (Exception e)
        {
            r.Fail(e);
        }
    }

    private async ValueTask GetattrAsync(FuseRequest r, ulong ino) => ReplyAttr(r, await _fs.GetAttrAsync(ino, r.Token).ConfigureAwait(false));

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnSetattr(nint req, ulong ino, Stat* attr, int toSet, FuseFileInfo* fi)
    {
        if (!Begin(req, "setattr", out var a, out var r)) return;
        try
        {
            var changes = FuseStat.Changes(attr, toSet, DateTimeOffset.UtcNow);
            ulong? fh = fi is null ? null : fi->Fh;
            a.Run(r, a.SetattrAsync(r, ino, changes, fh));
        }
        catch (Exception e)
        {
            r.Fail(e);
        }
    }

    private async ValueTask SetattrAsync(FuseRequest r, ulong ino, SetAttributes changes, ulong? fh) =>
        ReplyAttr(r, await _fs.SetAttrAsync(ino, changes, fh, r.Token).ConfigureAwait(false));

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnMkdir(nint req, ulong parent, byte* name, uint mode)
    {
        if (!Begin(req, "mkdir", out var a, out var r)) return;
        try
        {
            string n = Utf8(name);
            r.What = "mkdir " + n;
            a.Run(r, a.EntryAsync(r, a._fs.MkdirAsync(parent, n, Caller(r, mode), r.Token)));
        }
        catch (Exception e)
        {
            r.Fail(e);
        }
    }

    private async ValueTask EntryAsync(FuseRequest r, ValueTask<EntryReply> operation) => ReplyEntry(r, await operation.ConfigureAwait(false));

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnMknod(nint req, ulong parent, byte* name, uint mode, ulong rdev)
    {
        if (!Begin(req, "mknod", out var a, out var r)) return;
        try
        {
            string n = Utf8(name);
            r.What = "mknod " + n;
            var kind = NodeKinds.FromMode(mode) ?? throw new FileSystemException(FsError.InvalidArgument, $"mknod of type 0{mode >> 12:o}");
            a.Run(r, a.EntryAsync(r, a._fs.MknodAsync(parent, n, kind, rdev, Caller(r, mode), r.Token)));
        }
        catch (Exception e)
        {
            r.Fail(e);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnLink(nint req, ulong ino, ulong newParent, byte* newName)
    {
        if (!Begin(req, "link", out var a, out var r)) return;
        try
        {
            a.Run(r, a.EntryAsync(r, CloudFileSystem.LinkAsync(ino, newParent, Utf8(newName))));
        }
        catch (Exception e)
        {
            r.Fail(e);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnUnlink(nint req, ulong parent, byte* name)
    {
        if (!Begin(req, "unlink", out var a, out var r)) return;
        try
        {
            string n = Utf8(name);
            r.What = "unlink " + n;
            a.Run(r, a.ReplyOk(r, a._fs.UnlinkAsync(parent, n, r.Token)));
        }
        catch (Exception e)
        {
            r.Fail(e);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnRmdir(nint req, ulong parent, byte* name)
    {
        if (!Begin(req, "rmdir", out var a, out var r)) return;
        try
        {
            string n = Utf8(name);
            r.What = "rmdir " + n;
            a.Run(r, a.ReplyOk(r, a._fs.RmdirAsync(parent, n, r.Token)));
        }
        catch (Exception e)
        {
            r.Fail(e);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnRename(nint req, ulong parent, byte* name, ulong newParent, byte* newName, uint flags)
    {
        if (!Begin(req, "rename", out var a, out var r)) return;
        try
        {
            string n = Utf8(name), nn = Utf8(newName);
            r.What = $"rename {n} {nn}";
            var f = RenameFlags.None;
            if ((flags & 1) != 0) f |= RenameFlags.NoReplace;
            if ((flags & 2) != 0) f |= RenameFlags.Exchange;
            if ((flags & ~3u) != 0) throw new FileSystemException(FsError.InvalidArgument, $"rename flags 0x{flags:x}");
            a.Run(r, a.ReplyOk(r, a._fs.RenameAsync(parent, n, newParent, nn, f, r.Token)));
        }
        catch (Exception e)
        {
            r.Fail(e);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnStatfs(nint req, ulong ino)
    {
        if (!Begin(req, "statfs", out _, out var r)) return;
        try
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
            r.ReplyStatfs(&v);
        }
        catch (Exception e)
        {
            r.Fail(e);
        }
    }
}

/// <summary>Kernel-side tuning negotiated at INIT.</summary>
/// <param name="MaxReadaheadBytes">Largest kernel read-ahead per file, in bytes.</param>
/// <param name="MaxBackground">Asynchronous requests (read-ahead) the kernel may have in flight.</param>
public sealed record FuseTuning(uint MaxReadaheadBytes = 1 << 20, uint MaxBackground = 64);
