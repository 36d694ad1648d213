using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using CloudMount.Core.Caching;
using CloudMount.Core.Storage;
using CloudMount.Core.Vfs;
using CloudMount.Core.Writing;
using CloudMount.Windows;
using Microsoft.Extensions.Logging;

namespace CloudMount.Cli.Commands;

/// <summary>
/// The Windows end of <c>cloudmount mount URL X:</c>: everything up to the Vfs is <see cref="MountCommand"/>'s
/// (the same options and the same Core setup); this serves that Vfs through WinFsp until Ctrl-C or the volume
/// goes away, then unmounts, waits for uploads in progress and logs the request counts.
/// </summary>
[SupportedOSPlatform("windows")]
internal static class WindowsMountCommand
{
    /// <summary>The notice WinFsp's FLOSS exception asks every program using it to show (WinFsp License.txt, condition 2).</summary>
    public const string WinFspNotice = "WinFsp - Windows File System Proxy, Copyright (C) Bill Zissimopoulos (https://github.com/winfsp/winfsp)";

    /// <summary>What the mount needs besides the Vfs.</summary>
    internal sealed record Settings(OpenedStore Opened, VfsOptions Vfs, ReadCaches Caches, string CacheDir, uint? Uid, uint? Gid, uint FileMode, uint DirMode, bool Xattrs, Uri? MetricsAddr);

    /// <summary>Checks the mount point (before any request), as <see cref="WindowsMountPoint.Check"/> says.</summary>
    /// <exception cref="UsageException">The mount point cannot be used.</exception>
    public static string CheckMountPoint(string mountPoint)
    {
        try
        {
            return WindowsMountPoint.Check(mountPoint, p => Directory.Exists(p) || File.Exists(p), Path.GetFullPath);
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }
    }

    /// <summary>Mounts <paramref name="fs"/> on <paramref name="mountPoint"/> and serves it until Ctrl-C; returns the exit code.</summary>
    public static async Task<int> ServeAsync(CloudFileSystem fs, string mountPoint, Settings s, ILoggerFactory logs, Func<string, string>? banner)
    {
        var log = logs.CreateLogger("cloudmount");
        string url = s.Opened.Url.ToString().TrimEnd('/');
        await using var mount = WinFspMount.Mount(fs, new WinFspMountOptions
        {
            MountPoint = mountPoint,
            Uid = s.Uid,
            Gid = s.Gid,
            FileMode = s.FileMode,
            DirectoryMode = s.DirMode,
            ExtendedAttributes = s.Xattrs,
            VolumeLabel = s.Opened.Url.Scheme == "file" || s.Opened.Url.Bucket.Length == 0 ? "cloudmount" : s.Opened.Url.Bucket,
        }, logs.CreateLogger("winfsp"));
        mountPoint = mount.MountPoint;
        log.LogInformation("mounted {Url} on {MountPoint} (credentials: {Credentials}); Ctrl-C to unmount", url, mountPoint, s.Opened.CredentialSource);
        log.LogInformation("{Notice}", WinFspNotice);
        using var metrics = s.MetricsAddr is null ? null : MetricsExporter.Start(s.MetricsAddr);
        var recovery = Task.Run(() => WriteBackRecovery.RunAsync(Path.Combine(s.CacheDir, "staging"), s.Vfs.StagingDirectory, s.Opened.Store, s.Vfs.Upload, logs.CreateLogger("recovery"), CancellationToken.None));
        if (banner is not null) Console.Out.WriteLine(banner(mountPoint));

        var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.TrySetResult();
        }
        using (PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal))
        using (PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal))
        {
            await Task.WhenAny(stop.Task, mount.Completion).ConfigureAwait(false);
        }
        log.LogInformation("unmounting {MountPoint}", mountPoint);
        await mount.DisposeAsync().ConfigureAwait(false);
        await fs.DisposeAsync().ConfigureAwait(false);
        await recovery.ConfigureAwait(false);
        await s.Caches.DisposeAsync().ConfigureAwait(false);
        log.LogInformation("unmounted {MountPoint}; {Stats}; {Cache}", mountPoint, s.Opened.Stats, s.Caches);
        return 0;
    }
}
