using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using CloudMount.Core.Vfs;
using CloudMount.Windows.Interop;
using Microsoft.Extensions.Logging;

namespace CloudMount.Windows;

/// <summary>How to mount on Windows.</summary>
public sealed record WinFspMountOptions
{
    /// <summary>A drive letter (<c>X:</c>), <c>*</c> for the next free one, or a directory that does not exist yet (WinFsp creates it as a mount point).</summary>
    public required string MountPoint { get; init; }

    /// <summary>Owner of every file and directory as a POSIX uid (WinFsp maps it to a SID); <c>null</c> for the user running the mount.</summary>
    public uint? Uid { get; init; }

    /// <summary>Group as a POSIX gid; <c>null</c> for the primary group of the user running the mount.</summary>
    public uint? Gid { get; init; }

    /// <summary>Permission bits of files (the security descriptor's ACL follows them).</summary>
    public uint FileMode { get; init; } = Convert.ToUInt32("644", 8);

    /// <summary>Permission bits of directories.</summary>
    public uint DirectoryMode { get; init; } = Convert.ToUInt32("755", 8);

    /// <summary>The volume label Explorer shows.</summary>
    public string VolumeLabel { get; init; } = "cloudmount";

    /// <summary>Serve Windows extended attributes (object metadata); off with --no-xattrs.</summary>
    public bool ExtendedAttributes { get; init; } = true;
}

/// <summary>
/// One WinFsp mount of a <see cref="CloudFileSystem"/>: loads WinFsp, builds the security descriptors from
/// uid/gid/mode with WinFsp's POSIX mapping (FspPosixMapPermissionsToSecurityDescriptor), creates the file system
/// with our volume parameters (case-sensitive, case-preserving, Unicode, one file context per open handle),
/// sets the mount point and starts the dispatcher. Disposing stops the dispatcher, waits for uploads Cleanup
/// started, removes the mount point and deletes the file system. A failed mount leaves nothing mounted.
/// </summary>
[SupportedOSPlatform("windows")]
public sealed class WinFspMount : IAsyncDisposable
{
    private readonly WinFspApi _api;
    private readonly WinFsAdapter _adapter;
    private readonly WinFspHost _host;
    private readonly CancellationTokenSource _shutdown;
    private GCHandle _self;
    private unsafe FspFileSystemInterface* _interface;
    private nint _fileSystem;
    private int _disposed;

    private WinFspMount(WinFspApi api, WinFsAdapter adapter, WinFspHost host, CancellationTokenSource shutdown)
    {
        _shutdown = shutdown;
        _api = api;
        _adapter = adapter;
        _host = host;
    }

    /// <summary>The mount point (the drive letter WinFsp chose for <c>*</c>).</summary>
    public string MountPoint { get; private set; } = "";

    /// <summary>Completes when the dispatcher stops (after <see cref="DisposeAsync"/>, or when Windows removed the volume).</summary>
    public Task Completion => _host.Stopped.Task;

    /// <summary>Mounts <paramref name="fs"/>.</summary>
        /// <exception cref="IOException">WinFsp is not installed, or it refused the file system or the mount point (the NTSTATUS is in the message).</exception>
    public static unsafe WinFspMount Mount(CloudFileSystem fs, WinFspMountOptions options, ILogger logger)
    {
        var api = new WinFspApi(WinFspLoader.Load());
        uint version = 0;
        api.Version(&version);
        var security = BuildSecurity(api, options);
        var shutdown = new CancellationTokenSource();
        var adapter = new WinFsAdapter(fs, new WinFsOptions { Security = security, VolumeLabel = options.VolumeLabel }, logger, shutdown.Token);
        var host = new WinFspHost(api, adapter, logger);
        var mount = new WinFspMount(api, adapter, host, shutdown) { MountPoint = options.MountPoint };
        try
        {
            mount.Start(fs.Options, options);
            logger.LogDebug("WinFsp {Major}.{Minor} serving {MountPoint}", version >> 16, version & 0xFFFF, mount.MountPoint);
            return mount;
        }
        catch
        {
            mount.DisposeAsync().AsTask().GetAwaiter().GetResult();
            throw;
        }
    }

    private unsafe void Start(VfsOptions vfs, WinFspMountOptions options)
    {
        var p = VolumeParameters.For(vfs, DateTimeOffset.UtcNow, options.ExtendedAttributes);
        _interface = (FspFileSystemInterface*)NativeMemory.AllocZeroed((nuint)sizeof(FspFileSystemInterface));
        *_interface = WinFspHost.CreateInterface(options.ExtendedAttributes);
        _self = GCHandle.Alloc(_host);
        nint created;
        fixed (char* device = FspConstants.DiskDeviceName)
        {
            Check(_api.FileSystemCreate(device, &p, _interface, &created), "FspFileSystemCreate");
        }
        _fileSystem = created;
        ((FspFileSystem*)_fileSystem)->UserContext = GCHandle.ToIntPtr(_self);
        string? point = options.MountPoint == "*" ? null : options.MountPoint;
        fixed (char* mp = point)
        {
            Check(_api.FileSystemSetMountPoint(_fileSystem, mp), $"mount point {options.MountPoint}");
        }
        if (((FspFileSystem*)_fileSystem)->MountPoint is not 0 and var chosen) MountPoint = new string((char*)chosen); // the letter "*" picked
        Check(_api.FileSystemStartDispatcher(_fileSystem, WinFspHost.DispatcherThreads), "FspFileSystemStartDispatcher");
    }

    private static void Check(int status, string what)
    {
        if (status < 0) throw new IOException($"WinFsp: {what} failed with NTSTATUS 0x{status:x8}");
    }

    /// <summary>The file and directory descriptors from uid/gid/mode (WinFsp's own POSIX-to-Windows mapping, as its FUSE layer uses).</summary>
    private static SecurityDescriptors BuildSecurity(WinFspApi api, WinFspMountOptions options)
    {
        uint uid = options.Uid ?? TokenId(api, Advapi32.TokenUser);
        uint gid = options.Gid ?? TokenId(api, Advapi32.TokenPrimaryGroup);
        return new SecurityDescriptors(Descriptor(api, uid, gid, options.FileMode), Descriptor(api, uid, gid, options.DirectoryMode));
    }

    private static unsafe byte[] Descriptor(WinFspApi api, uint uid, uint gid, uint mode)
    {
        nint sd;
        Check(api.PosixMapPermissionsToSecurityDescriptor(uid, gid, mode, &sd), "FspPosixMapPermissionsToSecurityDescriptor");
        try
        {
            return new ReadOnlySpan<byte>((void*)sd, (int)Advapi32.GetSecurityDescriptorLength(sd)).ToArray();
        }
        finally
        {
            api.DeleteSecurityDescriptor(sd, api.PosixMapPermissionsAddress);
        }
    }

    /// <summary>The uid WinFsp maps the process token's user (TokenUser) or primary group (TokenPrimaryGroup) to.</summary>
    private static unsafe uint TokenId(WinFspApi api, int infoClass)
    {
        var buffer = stackalloc byte[256];
        if (Advapi32.GetTokenInformation(Advapi32.CurrentProcessToken, infoClass, buffer, 256, out _) == 0)
        {
            throw new IOException($"GetTokenInformation failed with error {Marshal.GetLastPInvokeError()}");
        }
        nint sid = *(nint*)buffer; // TOKEN_USER.User.Sid and TOKEN_PRIMARY_GROUP.PrimaryGroup both come first
        uint id;
        Check(api.PosixMapSidToUid(sid, &id), "FspPosixMapSidToUid");
        return id;
    }

    /// <summary>Stops the dispatcher, waits for uploads started by Cleanup, removes the mount point and frees the file system.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        if (_fileSystem != 0)
        {
            StopDispatcher();
            _host.Stopped.TrySetResult(true);
            _shutdown.Cancel();
            // Late answers use the file system object, and uploads Cleanup started must finish (or keep their data).
            await _host.DrainAsync().ConfigureAwait(false);
            await _adapter.DrainAsync().ConfigureAwait(false);
            DeleteFileSystem();
        }
        if (_self.IsAllocated) _self.Free();
        FreeInterface();
        _shutdown.Dispose();
    }

    private unsafe void StopDispatcher() => _api.FileSystemStopDispatcher(_fileSystem);

    private unsafe void DeleteFileSystem()
    {
        _api.FileSystemRemoveMountPoint(_fileSystem);
        _api.FileSystemDelete(_fileSystem);
        _fileSystem = 0;
    }

    private unsafe void FreeInterface()
    {
        if (_interface is null) return;
        NativeMemory.Free(_interface);
        _interface = null;
    }
}
