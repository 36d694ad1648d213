using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using CloudMount.Core.Vfs;
using CloudMount.Linux.Interop;
using Microsoft.Extensions.Logging;

namespace CloudMount.Linux;

/// <summary>
/// One FUSE request in flight, from its callback to its reply. It replies exactly once — every reply goes
/// through one claim that only the first caller passes — is registered with its
/// <see cref="FuseRequests"/> while pending, and carries a <see cref="Token"/> that the kernel's interrupt
/// (FUSE_INTERRUPT, e.g. Ctrl-C of the reading process) and unmount cancel.
/// </summary>
internal sealed class FuseRequest
{
    private readonly FuseRequests _owner;
    private readonly CancellationTokenSource _cancel = new();
    private int _replied;

    internal FuseRequest(FuseRequests owner, nint req, long id, string what)
    {
        _owner = owner;
        Req = req;
        Id = id;
        What = what;
    }

    /// <summary>libfuse's request handle (valid until the reply).</summary>
    public nint Req { get; }

    /// <summary>The id under which the request is registered (the interrupt callback's data).</summary>
    public long Id { get; }

    /// <summary>What the request is, for log lines ("lookup name").</summary>
    public string What { get; set; }

    /// <summary>Cancelled by the kernel's interrupt of this request and by unmount.</summary>
    public CancellationToken Token => _cancel.Token;

    /// <summary>True once a reply was sent (or given up on because the session is closed).</summary>
    public bool Replied => Volatile.Read(ref _replied) != 0;

    /// <summary>Cancels the request's token (from another thread: the interrupt callback holds a libfuse lock).</summary>
    public void Cancel() => ThreadPool.UnsafeQueueUserWorkItem(static c =>
    {
        try
        {
            c.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Already finished.
        }
    }, _cancel, preferLocal: false);

    /// <summary>
    /// Claims the one reply: true for the first caller while the session is open, who must send exactly one
    /// reply and then call <see cref="Sent"/>. Every reply method below goes through it, so a second reply is
    /// impossible by construction.
    /// </summary>
    private bool Claim()
    {
        if (Interlocked.Exchange(ref _replied, 1) != 0) return false;
        _owner.Unregister(this);
        if (_owner.EnterReply()) return true;
        _cancel.Dispose();
        return false;
    }

    private int Sent(int rc)
    {
        _owner.ExitReply();
        _cancel.Dispose();
        return rc;
    }

    // Each returns libfuse's result: 0 when the kernel took the reply, a negated errno otherwise (-ENOENT: the
    // request was interrupted and the reply discarded), or -ECANCELED when nothing was sent (replied before, or the
    // session is closed). Callers whose reply hands the kernel a reference (an entry, an open handle) undo it when
    // the result is not 0.

    /// <summary>Replies with an errno (0 for success).</summary>
    public int ReplyErr(int errno) => Claim() ? Sent(Libfuse.ReplyErr(Req, errno)) : -Errno.ECANCELED;

    /// <summary>Ends a request that takes no reply (forget).</summary>
    public void ReplyNone()
    {
        if (!Claim()) return;
        Libfuse.ReplyNone(Req);
        Sent(0);
    }

    public unsafe int ReplyEntry(FuseEntryParam* e) => Claim() ? Sent(Libfuse.ReplyEntry(Req, e)) : -Errno.ECANCELED;

    public unsafe int ReplyCreate(FuseEntryParam* e, FuseFileInfo* fi) => Claim() ? Sent(Libfuse.ReplyCreate(Req, e, fi)) : -Errno.ECANCELED;

    public unsafe int ReplyAttr(Stat* attr, double timeout) => Claim() ? Sent(Libfuse.ReplyAttr(Req, attr, timeout)) : -Errno.ECANCELED;

    public unsafe int ReplyOpen(FuseFileInfo* fi) => Claim() ? Sent(Libfuse.ReplyOpen(Req, fi)) : -Errno.ECANCELED;

    public int ReplyWrite(nuint count) => Claim() ? Sent(Libfuse.ReplyWrite(Req, count)) : -Errno.ECANCELED;

    public unsafe int ReplyBuf(byte* buf, nuint size) => Claim() ? Sent(Libfuse.ReplyBuf(Req, buf, size)) : -Errno.ECANCELED;

    public unsafe int ReplyIov(Iovec* iov, int count) => Claim() ? Sent(Libfuse.ReplyIov(Req, iov, count)) : -Errno.ECANCELED;

    public unsafe int ReplyData(FuseBufvec* bufv) => Claim() ? Sent(Libfuse.ReplyData(Req, bufv, 0)) : -Errno.ECANCELED;

    public int ReplyXattr(nuint count) => Claim() ? Sent(Libfuse.ReplyXattr(Req, count)) : -Errno.ECANCELED;

    public unsafe int ReplyReadlink(byte* link) => Claim() ? Sent(Libfuse.ReplyReadlink(Req, link)) : -Errno.ECANCELED;

    public unsafe int ReplyStatfs(Statvfs* st) => Claim() ? Sent(Libfuse.ReplyStatfs(Req, st)) : -Errno.ECANCELED;

    /// <summary>Adds a readdir entry into a reply buffer (no reply yet; valid while the request is pending).</summary>
    public unsafe nuint AddDirentry(byte* buf, nuint size, byte* name, Stat* st, long off) => Libfuse.AddDirentry(Req, buf, size, name, st, off);

    /// <summary>Adds a readdirplus entry into a reply buffer.</summary>
    public unsafe nuint AddDirentryPlus(byte* buf, nuint size, byte* name, FuseEntryParam* e, long off) => Libfuse.AddDirentryPlus(Req, buf, size, name, e, off);

    /// <summary>Replies with the error an exception stands for (<see cref="FuseErrorMap"/>), logging it.</summary>
    public void Fail(Exception e)
    {
        if (Replied) return;
        var error = FileSystemException.Classify(e);
        if (error == FsError.Io) _owner.Logger.LogWarning("{Operation}: {Error}", What, e.Message);
        else _owner.Logger.LogDebug("{Operation}: {Error} ({Message})", What, error, e.Message);
        ReplyErr(FuseErrorMap.ToErrno(error));
    }
}

/// <summary>
/// The requests in flight of one mount, and the gate that keeps replies away from a destroyed session: a
/// reply enters the gate (<see cref="EnterReply"/>), and <see cref="CloseAsync"/> shuts it and waits for the
/// replies inside to leave before the session is destroyed.
/// </summary>
/// <remarks>Thread safety: all members may be called from any thread. <c>_active</c> and <c>_closed</c> follow the
/// pattern "increment, then check closed" against "set closed, then wait for zero", so no reply starts after
/// <see cref="CloseAsync"/> has seen zero.</remarks>
internal sealed class FuseRequests(ILogger logger)
{
    private static readonly ConcurrentDictionary<long, FuseRequest> All = new();   // every mount's, by id (the interrupt callback's data)
    private static long _nextId;
    private readonly ConcurrentDictionary<long, FuseRequest> _mine = new();
    private int _active;
    private volatile bool _closed;

    public ILogger Logger => logger;

    /// <summary>Requests registered and not yet replied to.</summary>
    public int InFlight => _mine.Count;

    /// <summary>Registers a new request and its interrupt callback.</summary>
    public unsafe FuseRequest Begin(nint req, string what)
    {
        var r = new FuseRequest(this, req, Interlocked.Increment(ref _nextId), what);
        All[r.Id] = r;
        _mine[r.Id] = r;
        Libfuse.ReqInterruptFunc(req, (nint)(delegate* unmanaged[Cdecl]<nint, nint, void>)&OnInterrupt, (nint)r.Id);
        return r;
    }

    internal void Unregister(FuseRequest r)
    {
        _mine.TryRemove(r.Id, out _);
        All.TryRemove(r.Id, out _);
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnInterrupt(nint req, nint data)
    {
        try
        {
            if (All.TryGetValue(data, out var r)) r.Cancel();
        }
        catch (Exception)
        {
            // Nothing may leave a callback; an interrupt that cannot be delivered only makes the request wait.
        }
    }

    /// <summary>Enters the reply gate; false when the session is closed (then send nothing).</summary>
    public bool EnterReply()
    {
        Interlocked.Increment(ref _active);
        if (!_closed) return true;
        Interlocked.Decrement(ref _active);
        return false;
    }

    /// <summary>Leaves the reply gate.</summary>
    public void ExitReply() => Interlocked.Decrement(ref _active);

    /// <summary>Runs <paramref name="notify"/> (a notification to the kernel) inside the reply gate, if the session is open.</summary>
    public void Notify(Action notify)
    {
        if (!EnterReply()) return;
        try
        {
            notify();
        }
        finally
        {
            ExitReply();
        }
    }

    /// <summary>Cancels every request in flight and waits up to <paramref name="bound"/> for them to finish.</summary>
    /// <returns>True when none is left.</returns>
    public async Task<bool> DrainAsync(TimeSpan bound)
    {
        foreach (var r in _mine.Values) r.Cancel();
        var until = DateTime.UtcNow + bound;
        while (!_mine.IsEmpty && DateTime.UtcNow < until)
        {
            await Task.Delay(20).ConfigureAwait(false);
        }
        return _mine.IsEmpty;
    }

    /// <summary>Shuts the reply gate and waits for replies inside it to leave; afterwards nothing touches the session.</summary>
    public async Task CloseAsync()
    {
        _closed = true;
        while (Volatile.Read(ref _active) != 0) await Task.Delay(1).ConfigureAwait(false);
        foreach (var r in _mine.Values) Unregister(r);
    }
}
