using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using CloudMount.Tests.Support;
using static CloudMount.Tests.Support.ProcessRunner;

namespace CloudMount.Tests.Packaging;

/// <summary>A NOTIFY_SOCKET of the test's own: what systemd would receive from a Type=notify service.</summary>
public sealed class NotifyListener : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);

    public NotifyListener()
    {
        Path = System.IO.Path.Combine(Paths.NewDir("notify"), "notify.sock");
        _socket.Bind(new UnixDomainSocketEndPoint(Path));
    }

    /// <summary>The socket's path, for NOTIFY_SOCKET.</summary>
    public string Path { get; }

    /// <summary>The next datagram as its KEY=VALUE lines; fails the test if none arrives within <paramref name="seconds"/>.</summary>
    public async Task<Dictionary<string, string>> NextAsync(int seconds = 60)
    {
        var buffer = new byte[4096];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        int n;
        try
        {
            n = await _socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new AssertionException($"no notify message within {seconds} s");
        }
        return Encoding.UTF8.GetString(buffer, 0, n).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split('=', 2)).ToDictionary(p => p[0], p => p.Length > 1 ? p[1] : "");
    }

    public void Dispose() => _socket.Dispose();
}

/// <summary>
/// Running as a system service: systemd's readiness messages (Type=notify), --daemon, --log-file, and the
/// units in packaging/systemd checked by systemd-analyze.
/// </summary>
public sealed class ServiceTests
{
    [Test]
    public async Task A_notify_service_says_ready_once_mounted_and_stopping_at_unmount()
    {
        using var listener = new NotifyListener();
        string mnt = Paths.NewDir("notifymnt");
        var mount = await MountProcess.StartAsync("mem://notify", mnt, null, new Dictionary<string, string?> { ["NOTIFY_SOCKET"] = listener.Path });
        await using (mount)
        {
            var ready = await listener.NextAsync();
            Assert.That(ready["READY"], Is.EqualTo("1"));
            Assert.That(ready["STATUS"], Is.EqualTo($"mounted mem://notify on {mnt}"));
            Assert.That(ready["MAINPID"], Is.EqualTo(mount.Pid.ToString()));
            Assert.That(Mounts.IsMounted(mnt), "READY=1 came before the mount was there");
            await BashOkAsync($"echo hello > {Q(mnt)}/f && cat {Q(mnt)}/f");

            // systemctl stop sends SIGTERM.
            await RunAsync("kill", ["-TERM", mount.Pid.ToString()]);
            var stopping = await listener.NextAsync();
            Assert.That(stopping["STOPPING"], Is.EqualTo("1"));
            Assert.That(stopping["STATUS"], Is.EqualTo($"unmounting {mnt}"));
            await mount.StopAsync();
            Assert.That(mount.ExitCode, Is.Zero, mount.Stderr);
        }
    }

    [Test]
    public async Task An_unmount_from_outside_also_says_stopping()
    {
        using var listener = new NotifyListener();
        string mnt = Paths.NewDir("notifyext");
        await using var mount = await MountProcess.StartAsync("mem://x", mnt, null, new Dictionary<string, string?> { ["NOTIFY_SOCKET"] = listener.Path });
        Assert.That((await listener.NextAsync())["READY"], Is.EqualTo("1"));
        await BashOkAsync($"umount {Q(mnt)}");
        var stopping = await listener.NextAsync();
        Assert.That(stopping["STOPPING"], Is.EqualTo("1"));
        await mount.StopAsync();
        Assert.That(mount.ExitCode, Is.Zero, mount.Stderr);
    }

    [Test]
    public async Task A_failed_start_sends_its_error_as_status_and_no_ready()
    {
        using var listener = new NotifyListener();
        string mnt = Paths.NewDir("notifybad");
        var r = await CloudMountAsync(["mount", "s3://some-bucket", mnt, "--endpoint", "http://127.0.0.1:9", "--retries", "1"],
            new Dictionary<string, string?> { ["NOTIFY_SOCKET"] = listener.Path, ["AWS_ACCESS_KEY_ID"] = "a", ["AWS_SECRET_ACCESS_KEY"] = "b" }, TimeSpan.FromSeconds(60));
        Assert.That(r.ExitCode, Is.EqualTo(1), r.ToString());
        var status = await listener.NextAsync();
        Assert.That(status.ContainsKey("READY"), Is.False);
        Assert.That(status["STATUS"], Is.EqualTo(r.StderrLines.Single()));
        Assert.That(status["STATUS"], Does.StartWith("cloudmount: error: s3://some-bucket: cannot reach http://127.0.0.1:9"));
    }

    [Test]
    public async Task Daemon_mode_returns_once_mounted_and_the_mount_lives_on_until_unmounted()
    {
        string mnt = Paths.NewDir("daemonmnt");
        string log = Path.Combine(Paths.NewDir("daemonlog"), "mount.log");
        var r = await CloudMountAsync(["mount", "--daemon", "mem://bg", mnt, "--log-file", log, "--cache-dir", Paths.NewDir("daemoncache")], null, TimeSpan.FromSeconds(120));
        try
        {
            Assert.That(r.ExitCode, Is.Zero, r.ToString());
            Assert.That(r.StderrLines, Has.Length.EqualTo(1), r.ToString());
            Assert.That(r.StderrLines[0], Does.Match($@"^cloudmount: mounted mem://bg on {mnt} in the background \(pid \d+\); log: {log}$"));
            Assert.That(Mounts.IsMounted(mnt), "--daemon returned before the mount was there");
            Assert.That(await BashOkAsync($"echo data > {Q(mnt)}/f && cat {Q(mnt)}/f"), Is.EqualTo("data\n"));
            Assert.That(File.ReadAllText(log), Does.Contain($"info: mounted mem://bg on {mnt}"));
        }
        finally
        {
            if (Mounts.IsMounted(mnt)) await BashAsync($"umount {Q(mnt)}");
        }
        int pid = int.Parse(System.Text.RegularExpressions.Regex.Match(r.StderrLines[0], @"pid (\d+)").Groups[1].Value);
        Assert.That(await WaitForExitAsync(pid), "the background mount did not end after umount");
        Assert.That(File.ReadAllText(log), Does.Contain($"info: unmounted {mnt}"));
    }

    [Test]
    public async Task Daemon_mode_fails_within_seconds_with_the_mounts_own_line()
    {
        string mnt = Paths.NewDir("daemonbad");
        string log = Path.Combine(Paths.NewDir("daemonbadlog"), "mount.log");
        var env = new Dictionary<string, string?> { ["AWS_ACCESS_KEY_ID"] = "a", ["AWS_SECRET_ACCESS_KEY"] = "b" };
        var unreachable = await CloudMountAsync(["mount", "--daemon", "s3://some-bucket", mnt, "--endpoint", "http://127.0.0.1:9", "--retries", "1", "--log-file", log], env, TimeSpan.FromSeconds(60));
        Assert.That(unreachable.ExitCode, Is.EqualTo(1), unreachable.ToString());
        Assert.That(unreachable.StderrLines, Is.EqualTo(new[] { "cloudmount: error: s3://some-bucket: cannot reach http://127.0.0.1:9: Connection refused (127.0.0.1:9)" }), unreachable.ToString());
        Assert.That(File.ReadAllText(log), Does.Contain("cannot reach http://127.0.0.1:9"), "the log has the error too");

        var badValue = await CloudMountAsync(["mount", "--daemon", "mem://x", mnt, "--file-mode", "999", "--log-file", log], null, TimeSpan.FromSeconds(60));
        Assert.That((badValue.ExitCode, badValue.StderrLines.Length), Is.EqualTo((2, 1)), badValue.ToString());
        Assert.That(badValue.StderrLines[0], Is.EqualTo("cloudmount: error: --file-mode '999' is not an octal mode such as 0644"));

        var badOption = await CloudMountAsync(["mount", "--daemon", "mem://x", mnt, "--no-such-option"], null, TimeSpan.FromSeconds(60));
        Assert.That(badOption.ExitCode, Is.Not.Zero, badOption.ToString());
        Assert.That(badOption.Stderr, Does.Contain("--no-such-option"));
        Assert.That(Mounts.IsMounted(mnt), Is.False);
    }

    [Test]
    public async Task Log_file_in_the_foreground_takes_the_log_lines_and_stderr_stays_quiet()
    {
        string mnt = Paths.NewDir("logmnt");
        string log = Path.Combine(Paths.NewDir("fglog"), "sub", "fg.log");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { Paths.CloudMountDll, "mount", "mem://fg", mnt, "--log-file", log, "--cache-dir", Paths.NewDir("fgcache") }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        try
        {
            var sw = Stopwatch.StartNew();
            while (!(File.Exists(log) && File.ReadAllText(log).Contains("info: mounted mem://fg", StringComparison.Ordinal)))
            {
                Assert.That(p.HasExited, Is.False, "the mount exited: " + (p.HasExited ? await stderr : ""));
                Assert.That(sw.Elapsed, Is.LessThan(TimeSpan.FromSeconds(60)), "no 'mounted' line in the log file");
                await Task.Delay(100);
            }
            Assert.That(Mounts.IsMounted(mnt));
        }
        finally
        {
            await RunAsync("kill", ["-TERM", p.Id.ToString()]);
            await p.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token);
        }
        Assert.That(p.ExitCode, Is.Zero);
        Assert.That(await stderr, Is.Empty);
        Assert.That(File.ReadAllLines(log).Last(), Does.Match($@"^\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{{3}} info: unmounted {mnt};"));
    }

    [Test]
    public async Task The_systemd_units_pass_systemd_analyze_verify()
    {
        if ((await BashAsync("command -v systemd-analyze")).ExitCode != 0)
        {
            Assert.Ignore("systemd-analyze is not installed (Debian package systemd; scripts/install-test-deps.sh installs it)");
        }
        string units = Directory.Exists("/usr/lib/systemd/system") ? "/usr/lib/systemd/system" : "/lib/systemd/system";
        // A scratch root: systemd's own units (targets the ours refer to), ours, and the programs they run.
        // --man=no: the man pages named by Documentation= come with the package, not with this scratch root.
        string root = Paths.NewDir("systemdroot");
        await BashOkAsync($"mkdir -p {Q(root)}/usr/lib/systemd {Q(root)}/etc/systemd/system {Q(root)}/usr/bin {Q(root)}/bin && cp -r {Q(units)} {Q(root)}/usr/lib/systemd/ " +
            $"&& cp {Q(Paths.Repo)}/packaging/systemd/* {Q(root)}/etc/systemd/system/ && printf '#!/bin/sh\\n' > {Q(root)}/usr/bin/cloudmount && cp /bin/mkdir {Q(root)}/bin/ && chmod +x {Q(root)}/usr/bin/cloudmount");
        var ok = await RunAsync("systemd-analyze", ["verify", "--man=no", "--root=" + root, "cloudmount@data.service", "cloudmount@srv-archive.service", "data.mount"]);
        Assert.That((ok.ExitCode, ok.Stderr.Trim()), Is.EqualTo((0, "")), ok.ToString());

        // The check can fail: a unit whose program is missing is refused.
        File.WriteAllText(Path.Combine(root, "etc/systemd/system/cloudmount@.service"),
            File.ReadAllText(Path.Combine(Paths.Repo, "packaging/systemd/cloudmount@.service")).Replace("ExecStart=/usr/bin/cloudmount", "ExecStart=/usr/bin/cloudmount-missing"));
        var bad = await RunAsync("systemd-analyze", ["verify", "--man=no", "--root=" + root, "cloudmount@data.service"]);
        Assert.That(bad.ExitCode, Is.Not.Zero, bad.ToString());
        Assert.That(bad.Stderr, Does.Contain("/usr/bin/cloudmount-missing"));
    }

    /// <summary>Waits (at most 60 s) for process <paramref name="pid"/> to end; true when it did.</summary>
    internal static async Task<bool> WaitForExitAsync(int pid)
    {
        var sw = Stopwatch.StartNew();
        while (Directory.Exists($"/proc/{pid}") && !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ", StringComparison.Ordinal))
        {
            if (sw.Elapsed > TimeSpan.FromSeconds(60)) return false;
            await Task.Delay(100);
        }
        return true;
    }
}
