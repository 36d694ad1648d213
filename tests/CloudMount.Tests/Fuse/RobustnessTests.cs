using System.Security.Cryptography;
using CloudMount.Tests.Support;
using static CloudMount.Tests.Support.ProcessRunner;

namespace CloudMount.Tests.Fuse;

/// <summary>
/// The reproductions of "a mount that nothing can crash, hang or make lose data", each through a real mount:
/// arguments no object can hold, unmount right after a close, an unlink racing the release's upload, races
/// on one file, a full staging disk, permissions of staged data.
/// </summary>
public sealed class RobustnessTests
{
    private static async Task<string> Python(string script, TimeSpan? timeout = null) =>
        await BashOkAsync($"python3 - <<'EOF'\n{script}\nEOF", timeout: timeout ?? TimeSpan.FromMinutes(2));

    [Test]
    public async Task Times_no_object_can_hold_are_refused_with_eoverflow_and_the_mount_lives_on()
    {
        string mnt = Paths.NewDir("timesmnt");
        await using var mount = await MountProcess.StartAsync("mem://times", mnt);
        string f = Path.Combine(mnt, "f");
        await BashOkAsync($"echo data > {Q(f)}");
        var touch = await BashAsync($"touch -d @-99999999999 {Q(f)}");
        Assert.That(touch.ExitCode, Is.Not.Zero);
        Assert.That(touch.Stderr, Does.Contain("Value too large"), touch.ToString());
        string py = await Python($$"""
            import errno, os
            out = []
            for t in (10**12, -10**12, 2**40):
                try:
                    os.utime({{Q(f)}}, (t, t))
                    out.append("ok")
                except OSError as e:
                    out.append(errno.errorcode[e.errno])
            os.utime({{Q(f)}}, (2**32, 2**32))
            out.append(str(int(os.stat({{Q(f)}}).st_mtime)))
            print(" ".join(out))
            """);
        Assert.That(py.Trim(), Is.EqualTo("EOVERFLOW EOVERFLOW EOVERFLOW 4294967296"), "a time after 2038 within the years 1..9999 is kept");
        Assert.That(await BashOkAsync($"cat {Q(f)}"), Is.EqualTo("data\n"), "the mount is alive and the file intact");
        string log = await mount.StopAsync();
        Assert.That(mount.ExitCode, Is.Zero, log);
        Assert.That(log, Does.Not.Contain("Unhandled exception"));
    }

    [Test]
    public async Task Unmount_right_after_a_close_stores_the_file_and_exits_cleanly()
    {
        for (int round = 0; round < 4; round++)
        {
            string store = Paths.NewDir("unmountstore");
            string mnt = Paths.NewDir("unmountmnt");
            await using var mount = await MountProcess.StartAsync($"file://{store}", mnt);
            await BashOkAsync($"touch {Q(mnt)}/e1 && echo payload > {Q(mnt)}/e2 && fusermount3 -u {Q(mnt)}");
            string log = await mount.StopAsync();
            Assert.That(mount.ExitCode, Is.Zero, $"round {round}: {log}");
            Assert.That(log, Does.Not.Contain("not uploaded").And.Not.Contain("disposed object"), $"round {round}");
            Assert.That(File.Exists(Path.Combine(store, "e1")), $"round {round}: e1 stored");
            Assert.That(File.ReadAllText(Path.Combine(store, "e2")), Is.EqualTo("payload\n"), $"round {round}");
            Assert.That(Mounts.IsMounted(mnt), Is.False);
        }
    }

    [Test]
    public async Task Removing_a_file_just_created_removes_it_for_good()
    {
        var s = await TestServers.Swift;
        string bucket = await s.NewBucketAsync("rmempty");
        string mnt = Paths.NewDir("rmmnt");
        await using var mount = await MountProcess.StartAsync($"s3://{bucket}", mnt, ["--endpoint", s.Endpoint.ToString()], s.Env);
        await BashOkAsync($"mkdir {Q(mnt)}/L");
        for (int i = 0; i < 20; i++)
        {
            await BashOkAsync($"touch {Q(mnt)}/L/a; rm {Q(mnt)}/L/a; : > {Q(mnt)}/L/b; rm {Q(mnt)}/L/b");
        }
        await Task.Delay(2000);
        Assert.That(await BashOkAsync($"ls -A {Q(mnt)}/L"), Is.Empty, "nothing reappears once the metadata TTL has passed");
        Assert.That((await s.KeysAsync(bucket)).Where(k => k.StartsWith("L/", StringComparison.Ordinal) && k != "L/"), Is.Empty, "and nothing is in the store");
        await BashOkAsync($"rmdir {Q(mnt)}/L");
    }

    [Test]
    public async Task Reads_closes_appends_and_truncates_on_one_file_never_fail()
    {
        string store = Paths.NewDir("racestore");
        string mnt = Paths.NewDir("racemnt");
        await using var mount = await MountProcess.StartAsync($"file://{store}", mnt);
        string py = await Python($$"""
            import os
            d = {{Q(mnt)}}
            p = os.path.join(d, "log.txt")
            with open(p, "w") as f:
                f.write("start\n")
            expected = "start\n"
            errors = []
            for i in range(200):
                try:
                    with open(p) as f:
                        f.read()
                    fd = os.open(p, os.O_WRONLY | os.O_APPEND)
                    os.write(fd, b"line %d\n" % i)
                    os.close(fd)
                    expected += "line %d\n" % i
                except OSError as e:
                    errors.append("append %d: %s" % (i, e))
            for i in range(50):
                q = os.path.join(d, "t%d" % i)
                try:
                    open(q, "w").close()
                    os.truncate(q, 10)
                    if os.path.getsize(q) != 10:
                        errors.append("truncate %d: size %d" % (i, os.path.getsize(q)))
                    fd = os.open(os.path.join(d, "x%d" % i), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND)
                    os.write(fd, b"x")
                    os.close(fd)
                except OSError as e:
                    errors.append("create %d: %s" % (i, e))
            with open(p) as f:
                if f.read() != expected:
                    errors.append("content differs")
            print("\n".join(errors) if errors else "ok")
            """);
        Assert.That(py.Trim(), Is.EqualTo("ok"));
        string log = await mount.StopAsync();
        Assert.That(mount.ExitCode, Is.Zero, log);
        Assert.That(File.ReadAllText(Path.Combine(store, "log.txt")), Does.EndWith("line 199\n"));
        Assert.That(new FileInfo(Path.Combine(store, "t49")).Length, Is.EqualTo(10));
        Assert.That(File.ReadAllText(Path.Combine(store, "x49")), Is.EqualTo("x"));
    }

    [Test]
    public async Task A_full_staging_disk_fails_the_write_with_enospc_and_keeps_the_stored_object()
    {
        var s = await TestServers.Swift;
        string bucket = await s.NewBucketAsync("fulldisk");
        var good = new byte[20 << 20];
        new Random(7).NextBytes(good);
        await s.PutAsync(bucket, "keep.bin", good);
        string cache = Paths.NewDir("tmpfscache");
        await BashOkAsync($"mount -t tmpfs -o size=8m tmpfs {Q(cache)}");
        try
        {
            string mnt = Paths.NewDir("fullmnt");
            string src = Path.Combine(Paths.NewDir("src"), "new.bin");
            File.WriteAllBytes(src, Enumerable.Repeat((byte)'n', 20 << 20).ToArray());
            await using (var mount = await MountProcess.StartAsync($"s3://{bucket}", mnt, ["--endpoint", s.Endpoint.ToString(), "--cache-dir", cache], s.Env))
            {
                var cp = await BashAsync($"cp {Q(src)} {Q(mnt)}/keep.bin");
                Assert.That(cp.ExitCode, Is.Not.Zero, "cp must fail");
                Assert.That(cp.Stderr, Does.Contain("No space left on device"), cp.ToString());
                string log = await mount.StopAsync();
                Assert.That(log, Does.Contain("full disk").And.Contain(cache), "a log line says where");
            }
            var stored = await s.GetAsync(bucket, "keep.bin");
            Assert.That(stored, Is.Not.Null);
            Assert.That(MD5.HashData(stored!), Is.EqualTo(MD5.HashData(good)), "the good object is untouched");
        }
        finally
        {
            await BashAsync($"umount -l {Q(cache)}");
        }
    }

    [Test]
    public async Task Staged_data_is_readable_by_its_owner_only()
    {
        var s = await TestServers.Swift;
        string bucket = await s.NewBucketAsync("private");
        string mnt = Paths.NewDir("privmnt");
        string cache = Paths.NewDir("privcache");
        await using var mount = await MountProcess.StartAsync($"s3://{bucket}", mnt,
            ["--endpoint", s.Endpoint.ToString(), "--cache-dir", cache, "--file-mode", "0600"], s.Env);
        // A file held open for writing has its staging data and its record on disk.
        var writer = System.Diagnostics.Process.Start("bash", ["-c", $"exec 3> {Q(mnt + "/secret.txt")}; echo secret >&3; sleep 3"]);
        try
        {
            string[] data = [];
            for (int i = 0; i < 100 && (data.Length == 0 || !File.Exists(Path.ChangeExtension(data[0], ".json"))); i++)
            {
                await Task.Delay(50);
                data = Directory.GetFiles(Path.Combine(cache, "staging"), "*.data", SearchOption.AllDirectories);
            }
            Assert.That(data, Has.Length.EqualTo(1));
            string json = Path.ChangeExtension(data[0], ".json");
            Assert.That(File.Exists(json), "the record is written as soon as the file is dirty");
            Assert.That(File.GetUnixFileMode(data[0]), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
            Assert.That(File.GetUnixFileMode(json), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
            var folder = Path.GetDirectoryName(data[0])!;
            Assert.That(File.GetUnixFileMode(folder), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute));
            Assert.That(File.GetUnixFileMode(Path.GetDirectoryName(folder)!), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute));
        }
        finally
        {
            await writer!.WaitForExitAsync();
        }
        Assert.That(await s.GetAsync(bucket, "secret.txt"), Is.EqualTo("secret\n"u8.ToArray()));
    }
}
