using System.Text;
using CloudMount.Tests.Support;
using static CloudMount.Tests.Support.ProcessRunner;

namespace CloudMount.Tests.Packaging;

/// <summary>
/// An fstab line mounted by mount(8) itself (<c>mount -T FSTAB DIR</c>, /etc/fstab untouched) through the
/// mount.cloudmount helper, on a real S3 server (OpenStack Swift's s3api). mount(8) looks for helpers only in
/// /sbin, so each test runs in a mount and PID namespace of its own in which an overlay adds the helper to
/// /sbin (the package installs it there); whatever the test leaves mounted or running ends with the namespace.
/// </summary>
public sealed class FstabMountTests
{
    private static async Task<string> HelperDirAsync()
    {
        if ((await BashAsync("command -v unshare && command -v mount && grep -qw overlay /proc/filesystems")).ExitCode != 0)
        {
            Assert.Ignore("needs unshare, mount (util-linux) and overlayfs to put mount.cloudmount in /sbin of a private namespace");
        }
        string dir = Paths.NewDir("sbin");
        // What /sbin/mount.cloudmount of the package does, with this build's program.
        File.WriteAllText(Path.Combine(dir, "mount.cloudmount"), $"#!/bin/sh\nexec dotnet {Paths.CloudMountDll} mount-helper \"$@\"\n");
        File.SetUnixFileMode(Path.Combine(dir, "mount.cloudmount"), (UnixFileMode)0b111_101_101);
        return dir;
    }

    /// <summary>Runs <paramref name="script"/> in a new mount and PID namespace with mount.cloudmount in /sbin.</summary>
    private static Task<ProcessResult> InNamespaceAsync(string helperDir, string script) =>
        RunAsync("unshare", ["--mount", "--pid", "--fork", "--kill-child", "--propagation", "private", "/bin/bash", "-c",
            $"set -u; sbin=$(readlink -f /sbin); mount -t overlay overlay -o lowerdir={Q(helperDir)}:$sbin $sbin || exit 99\n{script}"],
            timeout: TimeSpan.FromMinutes(3));

    [Test]
    public async Task An_fstab_line_mounts_with_mount_and_unmounts_cleanly()
    {
        var s = await TestServers.Swift;
        string bucket = await s.NewBucketAsync("fstab");
        await s.PutAsync(bucket, "docs/a.txt", Encoding.UTF8.GetBytes("from the bucket\n"));
        string helper = await HelperDirAsync();
        string dir = Paths.NewDir("fstab");
        string mnt = Path.Combine(dir, "data");
        Directory.CreateDirectory(mnt);
        string envFile = Path.Combine(dir, "data.env");
        File.WriteAllText(envFile, $"AWS_ACCESS_KEY_ID={s.AccessKey}\nAWS_SECRET_ACCESS_KEY={s.SecretKey}\n");
        string log = Path.Combine(dir, "data.log");
        string fstab = Path.Combine(dir, "fstab");
        File.WriteAllText(fstab, $"# a temporary fstab\ns3://{bucket} {mnt} cloudmount _netdev,nofail,allow_other,endpoint={s.Endpoint},cache_dir={dir}/cache,uid=4321,ro,env_file={envFile},log_file={log} 0 0\n");

        var r = await InNamespaceAsync(helper, $$"""
            mount -T {{Q(fstab)}} {{Q(mnt)}}; echo "mount=$?"
            grep " {{mnt}} " /proc/mounts | cut -d' ' -f1,3,4
            stat -c 'uid=%u' {{Q(mnt)}}/docs/a.txt
            cat {{Q(mnt)}}/docs/a.txt
            touch {{Q(mnt)}}/new 2>&1 | sed 's/.*: //'
            umount {{Q(mnt)}}; echo "umount=$?"
            for i in $(seq 1 300); do grep -q 'unmounted {{mnt}}' {{Q(log)}} && break; sleep 0.1; done
            for i in $(seq 1 300); do pgrep -f '[c]loudmount.dll mount s3://{{bucket}}' >/dev/null || break; sleep 0.1; done
            pgrep -f '[c]loudmount.dll mount s3://{{bucket}}' >/dev/null && echo "still running" || echo "ended"
            grep -c " {{mnt}} " /proc/mounts
            """);
        Assert.That(r.ExitCode, Is.Not.EqualTo(99), r.ToString());
        string[] lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(8), r.ToString());
        Assert.That(lines[0], Is.EqualTo("mount=0"), r.ToString());
        Assert.That(lines[1], Does.StartWith($"s3://{bucket} fuse.cloudmount ro,").And.Contain("allow_other"));
        Assert.That(lines[2..], Is.EqualTo(new[] { "uid=4321", "from the bucket", "Read-only file system", "umount=0", "ended", "0" }), r.ToString());
        Assert.That(r.Stderr, Is.Empty, "mount is silent when it succeeds");
        string logText = File.ReadAllText(log);
        Assert.That(logText, Does.Contain($"mounted s3://{bucket} on {mnt} (credentials: AWS default credential chain)"));
        Assert.That(logText, Does.Contain($"unmounted {mnt}"));
        Assert.That(Mounts.IsMounted(mnt), Is.False);
    }

    [TestCase("no_such_option=1", 1, "mount.cloudmount: error: unknown option 'no_such_option'")]
    [TestCase("endpoint=http://127.0.0.1:9,retries=1", 32, "mount.cloudmount: error: s3://BUCKET: cannot reach http://127.0.0.1:9")]
    public async Task A_bad_fstab_line_fails_mount_with_one_clear_line(string options, int exitCode, string line)
    {
        var s = await TestServers.Swift;
        string bucket = await s.NewBucketAsync("fstabbad");
        string helper = await HelperDirAsync();
        string dir = Paths.NewDir("fstabbad");
        string mnt = Path.Combine(dir, "data");
        Directory.CreateDirectory(mnt);
        string envFile = Path.Combine(dir, "data.env");
        File.WriteAllText(envFile, $"AWS_ACCESS_KEY_ID={s.AccessKey}\nAWS_SECRET_ACCESS_KEY={s.SecretKey}\n");
        string fstab = Path.Combine(dir, "fstab");
        string endpoint = options.Contains("endpoint=", StringComparison.Ordinal) ? "" : $",endpoint={s.Endpoint}";
        File.WriteAllText(fstab, $"s3://{bucket} {mnt} cloudmount _netdev,nofail{endpoint},env_file={envFile},log_file={dir}/log,{options} 0 0\n");
        var r = await InNamespaceAsync(helper, $"mount -T {Q(fstab)} {Q(mnt)}; echo \"mount=$?\"; grep -c ' {mnt} ' /proc/mounts");
        Assert.That(r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries), Is.EqualTo(new[] { $"mount={exitCode}", "0" }), r.ToString());
        Assert.That(r.StderrLines, Has.Length.EqualTo(1), r.ToString());
        Assert.That(r.StderrLines[0], Does.StartWith(line.Replace("BUCKET", bucket)), r.ToString());
    }
}
