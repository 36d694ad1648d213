using System.Diagnostics;

namespace CloudMount.Tests.Support;

/// <summary>Reads /proc/self/mountinfo.</summary>
public static class Mounts
{
    /// <summary>Mount points of FUSE filesystems under <paramref name="dir"/>.</summary>
    public static List<string> OursUnder(string dir) =>
        File.ReadLines("/proc/self/mountinfo")
            .Select(l => l.Split(' '))
            .Where(f => f.Length > 9 && f.SkipWhile(x => x != "-").Skip(1).FirstOrDefault()?.StartsWith("fuse", StringComparison.Ordinal) == true)
            .Select(f => f[4].Replace("\\040", " "))
            .Where(p => p.StartsWith(dir, StringComparison.Ordinal))
            .ToList();

    /// <summary>True when <paramref name="path"/> is a mount point.</summary>
    public static bool IsMounted(string path) =>
        File.ReadLines("/proc/self/mountinfo").Any(l => l.Split(' ') is { Length: > 4 } f && f[4] == path);
}

/// <summary>
/// A running <c>cloudmount mount</c> process for a test: starts it, waits until the mount point is mounted,
/// and on dispose sends SIGINT, waits for a clean exit and checks that the mount is gone.
/// </summary>
public sealed class MountProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly System.Text.StringBuilder _stderr = new();
    private readonly System.Text.StringBuilder _stdout = new();

    private MountProcess(Process p, string mountPoint)
    {
        _process = p;
        MountPoint = mountPoint;
    }

    public string MountPoint { get; }

    /// <summary>The cloudmount process id.</summary>
    public int Pid => _process.Id;

    /// <summary>What the mount printed to stderr so far.</summary>
    public string Stderr
    {
        get { lock (_stderr) return _stderr.ToString(); }
    }

    /// <summary>Kills the process (a mount whose connection is gone); DisposeAsync then removes what is left.</summary>
    public void Kill() => _process.Kill(entireProcessTree: true);

    /// <summary>Whether the process has ended (stopped, crashed or killed).</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>Exit code once stopped.</summary>
    public int? ExitCode { get; private set; }

    /// <summary>Starts <c>cloudmount mount URL MOUNTPOINT args...</c> and waits for the mount.</summary>
    /// <param name="url">The store's URL.</param>
    /// <param name="mountPoint">Where to mount (created if missing).</param>
    /// <param name="extraArgs">Further arguments (a scratch --cache-dir is added unless given).</param>
    /// <param name="env">Environment changes (null removes a variable).</param>
    /// <param name="openFileLimit">When set, the mount runs with this soft and hard RLIMIT_NOFILE (as under <c>ulimit -n</c>).</param>
    /// <param name="announced">False: return as soon as the kernel mount is in /proc/self/mountinfo (polled every 2 ms), before
    /// the process logs "mounted" (while it is still setting the mount up).</param>
    public static async Task<MountProcess> StartAsync(string url, string mountPoint, IEnumerable<string>? extraArgs = null, IDictionary<string, string?>? env = null,
        int? openFileLimit = null, bool announced = true)
    {
        Directory.CreateDirectory(mountPoint);
        // Started the way a terminal starts it: with SIGINT at its default disposition, so the Ctrl-C that StopAsync
        // sends is delivered even when this test run inherited SIGINT ignored (as jobs started with & in a script
        // do; exec keeps an ignored signal ignored). python3 resets it and execs, so the process id stays.
        var psi = new ProcessStartInfo("python3") { RedirectStandardError = true, RedirectStandardOutput = true, WorkingDirectory = Paths.Scratch };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add("import os, signal, sys, resource; signal.signal(signal.SIGINT, signal.SIG_DFL); "
            + (openFileLimit is { } limit ? $"resource.setrlimit(resource.RLIMIT_NOFILE, ({limit}, {limit})); " : "")
            + "os.execvp(sys.argv[1], sys.argv[1:])");
        psi.ArgumentList.Add("dotnet");
        psi.ArgumentList.Add(Paths.CloudMountDll);
        psi.ArgumentList.Add("mount");
        psi.ArgumentList.Add(url);
        psi.ArgumentList.Add(mountPoint);
        var extra = (extraArgs ?? []).ToList();
        if (!extra.Contains("--cache-dir"))
        {
            extra.AddRange(["--cache-dir", Path.Combine(Paths.Scratch, "cache")]);
        }
        foreach (var a in extra) psi.ArgumentList.Add(a);
        foreach (var (k, v) in env ?? new Dictionary<string, string?>())
        {
            if (v is null) psi.Environment.Remove(k); else psi.Environment[k] = v;
        }
        var p = Process.Start(psi)!;
        var m = new MountProcess(p, mountPoint);
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (m._stderr) m._stderr.AppendLine(e.Data); };
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (m._stdout) m._stdout.AppendLine(e.Data); };
        p.BeginErrorReadLine();
        p.BeginOutputReadLine();
        var sw = Stopwatch.StartNew();
        while (announced ? !m.Stderr.Contains("mounted ", StringComparison.Ordinal) : !Mounts.IsMounted(mountPoint))
        {
            if (p.HasExited)
            {
                throw new InvalidOperationException($"cloudmount exited with {p.ExitCode} before mounting:\n{m.Stderr}");
            }
            if (sw.Elapsed > TimeSpan.FromSeconds(30))
            {
                p.Kill(true);
                throw new InvalidOperationException($"cloudmount did not mount within 30 s:\n{m.Stderr}");
            }
            await Task.Delay(announced ? 50 : 2);
        }
        Assert.That(Mounts.IsMounted(mountPoint), $"{mountPoint} not in mountinfo after 'mounted' was logged");
        return m;
    }

    /// <summary>Sends SIGINT and waits for the process to unmount and exit; returns its stderr.</summary>
    /// <param name="timeout">How long the unmount may take (default 30 s).</param>
    public async Task<string> StopAsync(TimeSpan? timeout = null)
    {
        if (!_process.HasExited)
        {
            await ProcessRunner.RunAsync("kill", ["-INT", _process.Id.ToString()]);
            using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));
            try
            {
                await _process.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(true);
                await ProcessRunner.BashAsync($"fusermount3 -u -z {ProcessRunner.Q(MountPoint)}");
                throw new AssertionException($"cloudmount did not exit within {(timeout ?? TimeSpan.FromSeconds(30)).TotalSeconds} s of SIGINT:\n{Stderr}");
            }
        }
        _process.WaitForExit();
        ExitCode = _process.ExitCode;
        return Stderr;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync();
        }
        finally
        {
            if (Mounts.IsMounted(MountPoint))
            {
                await ProcessRunner.BashAsync($"fusermount3 -u -z {ProcessRunner.Q(MountPoint)}");
            }
            _process.Dispose();
        }
    }
}
