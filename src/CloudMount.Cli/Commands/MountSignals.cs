using System.Runtime.InteropServices;
using CloudMount.Linux;
using CloudMount.Cli.Service;
using Microsoft.Extensions.Logging;

namespace CloudMount.Cli.Commands;

/// <summary>
/// Ctrl-C (SIGINT), SIGTERM and SIGHUP of a Linux mount process, handled from before the kernel mount exists until
/// the process ends: the first signal unmounts (lazily when files are open), a second one aborts the FUSE connection.
/// A signal that comes while the mount is being set up (the kernel mount already in /proc/mounts, the process not yet
/// serving it as announced) is held and acted on as soon as the mount is attached, so the process still unmounts
/// and exits 0 instead of dying of the signal's default action.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal sealed class MountSignals : IDisposable
{
    private readonly ILogger _log;
    private readonly string _mountPoint;
    private readonly PosixSignalRegistration[] _registrations;
    private readonly object _lock = new();

    /// <summary>The mount the signals act on; null until <see cref="Attach"/>. Guarded by <see cref="_lock"/>.</summary>
    private FuseMount? _mount;

    /// <summary>Signals received so far (the first unmounts, later ones abort). Guarded by <see cref="_lock"/>.</summary>
    private int _signals;

    /// <summary>Registers the handlers; until <see cref="Attach"/> a signal is only remembered.</summary>
    public MountSignals(ILogger log, string mountPoint)
    {
        _log = log;
        _mountPoint = mountPoint;
        _registrations =
        [
            PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal),
            PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal),
            PosixSignalRegistration.Create(PosixSignal.SIGHUP, OnSignal),
        ];
    }

    /// <summary>True once a signal asked the mount to end.</summary>
    public bool Stopping
    {
        get { lock (_lock) return _signals > 0; }
    }

    /// <summary>From now on signals act on <paramref name="mount"/>; one that came before unmounts it at once.</summary>
    public void Attach(FuseMount mount)
    {
        lock (_lock)
        {
            _mount = mount;
            if (_signals > 0) Unmount(mount);
        }
    }

    private void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true;
        lock (_lock)
        {
            int n = ++_signals;
            if (_mount is not { } mount)
            {
                _log.LogInformation("{Signal} while mounting {MountPoint}: unmounting as soon as the mount is up", context.Signal, _mountPoint);
                return;
            }
            if (n == 1) Unmount(mount);
            else
            {
                _log.LogWarning("aborting the FUSE connection of {MountPoint}", _mountPoint);
                mount.Abort();
            }
        }
    }

    private void Unmount(FuseMount mount)
    {
        ServiceNotify.Stopping($"unmounting {_mountPoint}");
        _log.LogInformation("unmounting {MountPoint}", _mountPoint);
        if (!mount.Unmount(lazy: false))
        {
            _log.LogWarning("{MountPoint} is busy: files are open; detaching it and finishing when they are closed (Ctrl-C again to abort)", _mountPoint);
            mount.Unmount(lazy: true);
        }
    }

    /// <summary>Removes the handlers (signals then take their default action again).</summary>
    public void Dispose()
    {
        foreach (var r in _registrations) r.Dispose();
    }
}
