using System.Diagnostics;
using System.Runtime.InteropServices;
using CloudMount.Core.Vfs;
using CloudMount.Linux.Interop;
using Microsoft.Extensions.Logging;

namespace CloudMount.Linux;

/// <summary>How to mount.</summary>
public sealed record FuseMountOptions
{
    /// <summary>The directory to mount on.</summary>
    public required string MountPoint { get; init; }

    /// <summary>What <c>mount</c> and <c>df</c> show as the source, for example <c>s3://bucket</c>.</summary>
    public string FsName { get; init; } = "cloudmount";

    /// <summary>Let other users see the mount (needs <c>user_allow_other</c> in /etc/fuse.conf for non-root).</summary>
    public bool AllowOther { get; init; }

    /// <summary>Mount read-only at the kernel level too.</summary>
    public bool ReadOnly { get; init; }

    /// <summary>
    /// Serve extended attributes (object metadata). When off, the kernel learns at the first request that there
    /// are none and stops asking, which spares small writes a request each (security.capability).
    /// </summary>
    public bool ExtendedAttributes { get; init; } = true;

    /// <summary>Kernel-side tuning.</summary>
    public FuseTuning Tuning { get; init; } = new();

    /// <summary>How long to wait for the kernel's INIT.</summary>
    public TimeSpan InitTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The FUSE device checked before mounting.</summary>
    public string FuseDevice { get; init; } = "/dev/fuse";

    /// <summary>How long unmount waits for requests in flight (their uploads go on in the file system after it).</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// One FUSE mount of a <see cref="CloudFileSystem"/>: creates the libfuse session, mounts it with
/// <c>auto_unmount</c> (fusermount3 unmounts it even if this process dies), runs libfuse's multi-threaded loop
/// on its own thread, and waits for the kernel's INIT before reporting the mount ready (as Tmds.Fuse does).
/// Disposing unmounts (lazily if files are still open), waits for the loop to end, cancels and drains the
/// requests still in flight (at most <see cref="FuseMountOptions.DrainTimeout"/>), shuts the reply gate so no
/// late continuation touches the session, and only then frees the session. A failed mount leaves nothing mounted.
/// </summary>
public sealed class FuseMount : IAsyncDisposable
{
    private readonly ILogger _logger;
    private readonly FuseMountOptions _options;
    private readonly TaskCompletionSource<int> _loopDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private FuseAdapter? _adapter;
    private GCHandle _self;
    private nint _session;
    private ulong? _device;
    private int _disposed;

    private FuseMount(FuseMountOptions options, ILogger logger)
    {
        _options = options;
        _logger = logger;
    }

    /// <summary>The absolute mount point.</summary>
    public string MountPoint { get; private set; } = "";

    /// <summary>Completes with libfuse's loop result when the mount ends (unmounted by us, by fusermount3 -u, or by umount).</summary>
    public Task<int> Completion => _loopDone.Task;

    /// <summary>Mounts <paramref name="fs"/> and returns once the kernel has initialised the connection.</summary>
    /// <exception cref="MountException">A pre-flight check, the mount or INIT failed; nothing is left mounted.</exception>
    public static async Task<FuseMount> MountAsync(CloudFileSystem fs, FuseMountOptions options, ILogger logger)
    {
        string mountPoint = MountPreflight.Check(options.MountPoint, options.FuseDevice);
        var mount = new FuseMount(options, logger) { MountPoint = mountPoint };
        var adapter = new FuseAdapter(fs, options.Tuning, logger);
        mount._adapter = adapter;
        mount._self = GCHandle.Alloc(adapter);
        try
        {
            mount.Start(adapter);
            // Offset -1: the kernel drops the inode's cached attributes only (fuse_lowlevel_notify_inval_inode).
            fs.InvalidateKernelAttributes = ino => adapter.Requests.Notify(() =>
            {
                if (mount._session != 0 && !mount.Completion.IsCompleted) Libfuse.NotifyInvalInode(mount._session, ino, -1, 0);
            });
            var first = await Task.WhenAny(adapter.Initialized.Task, mount._loopDone.Task, Task.Delay(options.InitTimeout)).ConfigureAwait(false);
            if (first != adapter.Initialized.Task)
            {
                throw new MountException(first == mount._loopDone.Task
                    ? $"the kernel ended the FUSE connection on {mountPoint} before it was ready"
                    : $"the kernel did not initialise the FUSE connection on {mountPoint} within {options.InitTimeout.TotalSeconds:0} s");
            }
            mount._device = Libc.DeviceOf(mountPoint);
            mount.TuneReadahead();
            logger.LogDebug("FUSE ready on {MountPoint}: {Negotiated}", mountPoint, adapter.Negotiated);
            return mount;
        }
        catch
        {
            await mount.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private unsafe void Start(FuseAdapter adapter)
    {
        var opts = new List<string> { "subtype=cloudmount", $"fsname={_options.FsName.Replace(',', '_').Replace('\\', '_')}", "default_permissions", "auto_unmount" };
        if (_options.AllowOther) opts.Add("allow_other");
        if (_options.ReadOnly) opts.Add("ro");
        string[] argv = ["cloudmount", "-o", string.Join(',', opts)];

        // libfuse owns and frees the vector (allocated = 1); malloc'ed strings are what free() expects.
        var vector = (nint*)NativeMemory.Alloc((nuint)(argv.Length + 1), (nuint)sizeof(nint));
        for (int i = 0; i < argv.Length; i++)
        {
            vector[i] = Marshal.StringToCoTaskMemUTF8(argv[i]);
        }
        vector[argv.Length] = 0;
        var args = new FuseArgs { Argc = argv.Length, Argv = (nint)vector, Allocated = 1 };
        var ops = FuseAdapter.CreateOps();
        if (!_options.ExtendedAttributes)
        {
            // Without these libfuse answers ENOSYS, after which the kernel stops asking (no request per write).
            ops.Getxattr = ops.Setxattr = ops.Listxattr = ops.Removexattr = 0;
        }
        _session = Libfuse.SessionNew(&args, &ops, (nuint)sizeof(FuseLowlevelOps), GCHandle.ToIntPtr(_self));
        Libfuse.OptFreeArgs(&args);
        if (_session == 0)
        {
            throw new MountException("libfuse rejected the mount options (see the message above)");
        }
        if (Libfuse.SessionMount(_session, MountPoint) != 0)
        {
            Libfuse.SessionDestroy(_session);
            _session = 0;
            throw new MountException($"cannot mount on {MountPoint} (see the message above)");
        }
        nint session = _session;
        var thread = new Thread(() =>
        {
            int rc = -1;
            try
            {
                nint cfg = Libfuse.LoopCfgCreate();
                Libfuse.LoopCfgSetMaxThreads(cfg, 16);
                Libfuse.LoopCfgSetIdleThreads(cfg, 4);
                rc = Libfuse.SessionLoopMt(session, cfg);
                Libfuse.LoopCfgDestroy(cfg);
            }
            finally
            {
                _loopDone.TrySetResult(rc);
            }
        })
        {
            IsBackground = true,
            Name = "fuse-loop",
        };
        thread.Start();
    }

    /// <summary>
    /// Raises the kernel's read-ahead for this mount to the negotiated maximum (the bdi default is 128 KiB,
    /// which caps FUSE read-ahead no matter what INIT says). Needs root; skipped otherwise.
    /// </summary>
    private void TuneReadahead()
    {
        if (_device is not { } dev) return;
        uint major = (uint)(((dev >> 32) & 0xfffff000) | ((dev >> 8) & 0xfff));
        uint minor = (uint)(((dev >> 12) & 0xffffff00) | (dev & 0xff));
        string path = $"/sys/class/bdi/{major}:{minor}/read_ahead_kb";
        try
        {
            File.WriteAllText(path, (_options.Tuning.MaxReadaheadBytes / 1024).ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _logger.LogDebug("could not set {Path}: {Error}", path, e.Message);
        }
    }

    /// <summary>
    /// Asks the kernel to unmount. Without <paramref name="lazy"/>, fails (returns false) while files are open;
    /// lazily, the mount leaves the namespace at once and the loop ends when the last file is closed.
    /// </summary>
    public bool Unmount(bool lazy)
    {
        if (Completion.IsCompleted) return true;
        if (Libc.GetEuid() == 0)
        {
            if (Libc.Umount2(MountPoint, lazy ? Libc.MntDetach : 0) == 0) return true;
            int errno = Marshal.GetLastPInvokeError();
            if (errno != Errno.EBUSY)
            {
                _logger.LogDebug("umount2({MountPoint}) failed with errno {Errno}", MountPoint, errno);
            }
            return false;
        }
        string? fusermount = MountPreflight.FindFusermount();
        if (fusermount is null) return false;
        var psi = new ProcessStartInfo(fusermount) { RedirectStandardError = true };
        psi.ArgumentList.Add("-u");
        if (lazy) psi.ArgumentList.Add("-z");
        psi.ArgumentList.Add(MountPoint);
        using var p = Process.Start(psi)!;
        p.WaitForExit();
        return p.ExitCode == 0;
    }

    /// <summary>Cuts the FUSE connection (/sys/fs/fuse/connections/N/abort): every pending request fails. Last resort.</summary>
    public void Abort()
    {
        if (_device is not { } dev) return;
        uint minor = (uint)(((dev >> 12) & 0xffffff00) | (dev & 0xff));
        try
        {
            File.WriteAllText($"/sys/fs/fuse/connections/{minor}/abort", "1");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _logger.LogDebug("could not abort FUSE connection {Minor}: {Error}", minor, e.Message);
        }
    }

    /// <summary>Unmounts if still mounted, waits for the loop to end, and frees the session.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        if (_session != 0)
        {
            if (!Completion.IsCompleted && !Unmount(lazy: false))
            {
                _logger.LogWarning("{MountPoint} is busy (files open); detaching it, and finishing when they are closed", MountPoint);
                Unmount(lazy: true);
            }
            await Completion.ConfigureAwait(false);
            if (_adapter is { } adapter)
            {
                if (!await adapter.Requests.DrainAsync(_options.DrainTimeout).ConfigureAwait(false))
                {
                    _logger.LogWarning("{Count} requests still running after {Seconds} s at unmount; their replies are dropped", adapter.Requests.InFlight, _options.DrainTimeout.TotalSeconds);
                }
                await adapter.Requests.CloseAsync().ConfigureAwait(false);
            }
            Libfuse.SessionUnmount(_session);
            Libfuse.SessionDestroy(_session);
            _session = 0;
        }
        else
        {
            if (_adapter is { } adapter) await adapter.Requests.CloseAsync().ConfigureAwait(false);
        }
        if (_self.IsAllocated)
        {
            _self.Free();
        }
    }
}
