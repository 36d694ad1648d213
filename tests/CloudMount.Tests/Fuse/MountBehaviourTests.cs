using System.Text;
using System.Text.RegularExpressions;
using CloudMount.Tests.Support;
using static CloudMount.Tests.Support.ProcessRunner;

namespace CloudMount.Tests.Fuse;

/// <summary>Request costs and failure handling of a real mount on OpenStack Swift's S3 API.</summary>
public sealed class MountBehaviourTests
{
    private static Dictionary<string, long> RequestCounts(string log)
    {
        var m = Regex.Match(log, @"requests: LIST (\d+), HEAD (\d+), GET (\d+), PUT (\d+), DELETE (\d+), COPY (\d+)");
        Assert.That(m.Success, log);
        string[] names = ["LIST", "HEAD", "GET", "PUT", "DELETE", "COPY"];
        return names.Select((n, i) => (n, long.Parse(m.Groups[i + 1].Value))).ToDictionary(x => x.n, x => x.Item2);
    }

    [Test]
    public async Task Ls_lR_costs_one_list_per_folder_and_reading_every_file_one_get_each()
    {
        var s = await TestServers.Swift;
        string bucket = await s.NewBucketAsync("counts");
        using (var c = s.NewClient())
        {
            var puts = new List<Task>();
            for (int folder = 0; folder < 5; folder++)
            {
                for (int i = 0; i < 40; i++)
                {
                    puts.Add(s.PutAsync(bucket, $"folder{folder}/file{i:00}.txt", Encoding.UTF8.GetBytes($"{folder}/{i}\n")));
                }
            }
            await Task.WhenAll(puts);
        }
        string mnt = Paths.NewDir("countmnt");
        await using var mount = await MountProcess.StartAsync($"s3://{bucket}", mnt, ["--endpoint", s.Endpoint.ToString(), "--metadata-ttl", "60"], s.Env);
        string lsr = await BashOkAsync($"ls -lR {Q(mnt)}");
        Assert.That(Regex.Matches(lsr, @"file\d\d\.txt").Count, Is.EqualTo(200));
        string all = await BashOkAsync($"cd {Q(mnt)} && cat folder*/file*.txt");
        Assert.That(all.Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.Length.EqualTo(200));
        Assert.That(all, Does.Contain("3/17\n"));
        var counts = RequestCounts(await mount.StopAsync());
        Assert.That(counts["LIST"], Is.EqualTo(6), "one LIST for the root and one per folder");
        Assert.That(counts["HEAD"], Is.Zero, "sizes and dates come from the listings");
        Assert.That(counts["GET"], Is.EqualTo(200), "one GET per file");
        Assert.That(counts["PUT"] + counts["DELETE"] + counts["COPY"], Is.Zero);
    }

    [Test]
    public async Task A_failed_upload_fails_close_with_eio_and_keeps_the_data()
    {
        var s = await TestServers.Swift;
        string bucket = await s.NewBucketAsync("vanish");
        string mnt = Paths.NewDir("failmnt");
        string cache = Paths.NewDir("failcache");
        await using var mount = await MountProcess.StartAsync($"s3://{bucket}", mnt,
            ["--endpoint", s.Endpoint.ToString(), "--cache-dir", cache, "--retries", "2"], s.Env);
        string flags = Paths.NewDir("flags");
        var writer = BashAsync($$"""
            python3 - <<'EOF'
            import errno, os, time
            f = open({{Q(Path.Combine(mnt, "precious.txt"))}}, "w")
            f.write("irreplaceable results\n")
            open({{Q(Path.Combine(flags, "opened"))}}, "w").close()
            while not os.path.exists({{Q(Path.Combine(flags, "go"))}}):
                time.sleep(0.05)
            try:
                f.close()
                print("closed")
            except OSError as e:
                print(errno.errorcode[e.errno])
            EOF
            """, timeout: TimeSpan.FromSeconds(60));
        while (!File.Exists(Path.Combine(flags, "opened")) && !writer.IsCompleted)
        {
            await Task.Delay(50);
        }
        using (var c = s.NewClient())
        {
            await c.DeleteBucketAsync(bucket); // the bucket disappears while the file is open
        }
        File.WriteAllText(Path.Combine(flags, "go"), "");
        var result = await writer;
        string py = result.Stdout;
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(py.Trim(), Is.EqualTo("EIO"));
        var data = Directory.GetFiles(cache, "*.data", SearchOption.AllDirectories);
        Assert.That(data, Has.Length.EqualTo(1), "the staging file is kept");
        Assert.That(File.ReadAllText(data[0]), Is.EqualTo("irreplaceable results\n"));
        Assert.That(File.ReadAllText(Path.ChangeExtension(data[0], ".json")), Does.Contain("precious.txt").And.Contain(bucket));
        string log = await mount.StopAsync();
        Assert.That(log, Does.Contain("upload of precious.txt").And.Contain("the data is kept in"));
        Assert.That(File.ReadAllText(data[0]), Is.EqualTo("irreplaceable results\n"), "still there after unmount");
    }

    [Test]
    public async Task A_read_only_mount_answers_erofs_and_changes_nothing()
    {
        var s = await TestServers.Swift;
        string bucket = await s.NewBucketAsync("ro");
        await s.PutAsync(bucket, "keep.txt", Encoding.UTF8.GetBytes("keep"));
        string mnt = Paths.NewDir("romnt");
        await using var mount = await MountProcess.StartAsync($"s3://{bucket}", mnt, ["--endpoint", s.Endpoint.ToString(), "--read-only"], s.Env);
        Assert.That(await BashOkAsync($"cat {Q(mnt)}/keep.txt"), Is.EqualTo("keep"));
        foreach (var cmd in new[] { "echo x > new.txt", "rm keep.txt", "mkdir d", "echo y >> keep.txt", "mv keep.txt k2" })
        {
            var r = await BashAsync(cmd, cwd: mnt);
            Assert.That(r.ExitCode, Is.Not.Zero, cmd);
            Assert.That(r.Stderr, Does.Contain("Read-only file system"), cmd);
        }
        Assert.That(await s.KeysAsync(bucket), Is.EqualTo(new[] { "keep.txt" }));
    }

    [Test]
    public async Task Unmount_by_fusermount3_ends_the_process_cleanly()
    {
        string mnt = Paths.NewDir("extmnt");
        await using var mount = await MountProcess.StartAsync("mem://external", mnt);
        await BashOkAsync($"echo hi > {Q(mnt)}/f && fusermount3 -u {Q(mnt)}");
        string log = await mount.StopAsync();
        Assert.That(mount.ExitCode, Is.Zero, log);
        Assert.That(log, Does.Contain("unmounted"));
        Assert.That(Mounts.IsMounted(mnt), Is.False);
    }

    [Test]
    public async Task Sigterm_unmounts_and_a_busy_mount_is_detached_not_left_dangling()
    {
        string mnt = Paths.NewDir("busymnt");
        await using var mount = await MountProcess.StartAsync("mem://busy", mnt);
        await BashOkAsync($"echo data > {Q(mnt)}/open.txt");
        // Hold a file open, then ask for unmount: the mount is detached and the process ends once the file is closed.
        var holder = System.Diagnostics.Process.Start("bash", ["-c", $"exec 3< {Q(mnt + "/open.txt")}; sleep 2; cat <&3"]);
        await Task.Delay(500);
        await BashOkAsync($"kill -TERM {mount.Pid}");
        await holder.WaitForExitAsync();
        string log = await mount.StopAsync();
        Assert.That(mount.ExitCode, Is.Zero, log);
        Assert.That(log, Does.Contain("busy"));
        Assert.That(Mounts.IsMounted(mnt), Is.False);
    }

    [Test]
    public async Task Ctrl_c_while_the_mount_is_set_up_unmounts_it_and_exits_zero()
    {
        // The kernel mount exists before the process announces it (it warms its code paths meanwhile): a Ctrl-C
        // then, as a script that waits for /proc/mounts sends it, must unmount and exit 0, not kill the process.
        for (int round = 0; round < 3; round++)
        {
            string mnt = Paths.NewDir("earlyint");
            await using var mount = await MountProcess.StartAsync("mem://early", mnt, announced: false);
            string log = await mount.StopAsync();
            Assert.That(mount.ExitCode, Is.Zero, log);
            Assert.That(log, Does.Contain("unmounted"), log);
            Assert.That(Mounts.IsMounted(mnt), Is.False, log);
        }
    }
}
