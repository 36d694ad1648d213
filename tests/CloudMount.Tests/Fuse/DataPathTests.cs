using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using CloudMount.Tests.Support;
using static CloudMount.Tests.Support.ProcessRunner;

namespace CloudMount.Tests.Fuse;

/// <summary>Caches, offline reads, write-back recovery, multipart writes and metrics, through real mounts.</summary>
public sealed class DataPathTests
{
    private static long Count(string log, string kind) =>
        long.Parse(Regex.Matches(log, $@"{kind} (\d+)").Last().Groups[1].Value);

    private static byte[] Random(int n, int seed)
    {
        var b = new byte[n];
        new Random(seed).NextBytes(b);
        return b;
    }

    private static Task DropPageCache() => BashOkAsync("sync; echo 3 > /proc/sys/vm/drop_caches");

    [Test]
    public async Task The_disk_cache_serves_second_reads_and_reads_after_a_remount_without_gets()
    {
        var s = await TestServers.Swift;
        string bucket = await s.NewBucketAsync("diskcache");
        var data = Random(12_345_678, 1);
        await s.PutAsync(bucket, "data.bin", data);
        string cache = Paths.NewDir("cache"), mnt = Paths.NewDir("cachemnt");
        string[] args = ["--endpoint", s.Endpoint.ToString(), "--cache-dir", cache];
        string md5 = Convert.ToHexStringLower(MD5.HashData(data));

        await using (var first = await MountProcess.StartAsync($"s3://{bucket}", mnt, args, s.Env))
        {
            Assert.That((await BashOkAsync($"md5sum < {Q(mnt)}/data.bin")).Split(' ')[0], Is.EqualTo(md5));
            await DropPageCache();
            Assert.That((await BashOkAsync($"md5sum < {Q(mnt)}/data.bin")).Split(' ')[0], Is.EqualTo(md5));
            string log = await first.StopAsync();
            Assert.That(log, Does.Contain("downloaded 11.8 MiB"), "every byte was fetched once: the second read cost nothing");
        }
        await DropPageCache();
        await using (var second = await MountProcess.StartAsync($"s3://{bucket}", mnt, args, s.Env))
        {
            Assert.That((await BashOkAsync($"md5sum < {Q(mnt)}/data.bin")).Split(' ')[0], Is.EqualTo(md5));
            string log = await second.StopAsync();
            Assert.That(Count(log, "GET"), Is.Zero, "after a remount the disk cache answers, once the ETag is re-validated");
            Assert.That(log, Does.Contain("disk hits 12"));
        }
        var list = await CloudMountAsync(["cache", "list", "--cache-dir", cache]);
        Assert.That(list.Stdout, Does.Contain($"s3://{bucket}/data.bin").And.Contain("11.8 MiB of 11.8 MiB"));
    }

    /// <summary>
    /// fio-like random reads (256 KiB, O_DIRECT, every quarter-block of a 64 MiB object once, in a shuffled order):
    /// once the reader is dense it reads ahead, so fewer GETs than blocks are sent, and no byte is fetched twice,
    /// a later sequential pass included.
    /// </summary>
    [Test]
    public async Task Dense_random_reads_through_the_mount_read_ahead_and_fetch_each_byte_once()
    {
        var s = await TestServers.Swift;
        string bucket = await s.NewBucketAsync("denserandom");
        var data = Random(64 << 20, 7);
        await s.PutAsync(bucket, "data.bin", data);
        string mnt = Paths.NewDir("densemnt"), script = Path.Combine(Paths.NewDir("densepy"), "reads.py");
        string[] args = ["--endpoint", s.Endpoint.ToString(), "--cache-dir", Paths.NewDir("densecache")];
        // Writes each range read to the same offset of OUT, so OUT ends as the object if every read was right.
        await File.WriteAllTextAsync(script, """
            import mmap, os, random, sys
            src, out = sys.argv[1], sys.argv[2]
            fd = os.open(src, os.O_RDONLY | os.O_DIRECT)
            o = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            buf = mmap.mmap(-1, 262144)
            chunks = list(range(256)); random.Random(5).shuffle(chunks)
            for c in chunks:
                n = os.preadv(fd, [buf], c * 262144)
                assert n == 262144, (c, n)
                os.pwrite(o, buf[:n], c * 262144)
            """);
        string md5 = Convert.ToHexStringLower(MD5.HashData(data)), outFile = Path.Combine(Paths.NewDir("denseout"), "out.bin");
        await using var m = await MountProcess.StartAsync($"s3://{bucket}", mnt, args, s.Env);
        await BashOkAsync($"python3 {Q(script)} {Q(mnt)}/data.bin {Q(outFile)}");
        Assert.That((await BashOkAsync($"md5sum < {Q(outFile)}")).Split(' ')[0], Is.EqualTo(md5), "bytes of the random reads");
        await DropPageCache();
        Assert.That((await BashOkAsync($"md5sum < {Q(mnt)}/data.bin")).Split(' ')[0], Is.EqualTo(md5), "bytes of the sequential pass");
        string log = await m.StopAsync();
        Assert.That(Count(log, "GET"), Is.LessThan(64), "the 64 blocks took fewer GETs: the dense reader read ahead");
        Assert.That(log, Does.Contain("downloaded 64.0 MiB"), "every byte fetched once, none cancelled half-way");
    }

    [Test]
    public async Task Offline_cached_files_still_read_uncached_reads_fail_cleanly_and_the_mount_recovers()
    {
        var (s, stop, start) = await TestServers.StartPrivateS3rverAsync();
        string bucket = await s.NewBucketAsync("offline");
        var cached = Random(3_000_000, 2);
        var uncached = Random(2_000_000, 3);
        await s.PutAsync(bucket, "docs/cached.bin", cached);
        await s.PutAsync(bucket, "docs/uncached.bin", uncached);
        string mnt = Paths.NewDir("offmnt");
        await using var mount = await MountProcess.StartAsync($"s3://{bucket}", mnt,
            ["--endpoint", s.Endpoint.ToString(), "--cache-dir", Paths.NewDir("offcache"), "--metadata-ttl", "0.5", "--retries", "3"], s.Env);
        Assert.That(await BashOkAsync($"ls {Q(mnt)}/docs"), Is.EqualTo("cached.bin\nuncached.bin\n"));
        await BashOkAsync($"cat {Q(mnt)}/docs/cached.bin > /dev/null");

        await stop();
        await DropPageCache();
        await Task.Delay(700); // past the metadata TTL: every answer now comes from what the caches hold
        Assert.That(await BashOkAsync($"ls {Q(mnt)}/docs"), Is.EqualTo("cached.bin\nuncached.bin\n"), "listings from the cache");
        Assert.That((await BashOkAsync($"md5sum < {Q(mnt)}/docs/cached.bin")).Split(' ')[0], Is.EqualTo(Convert.ToHexStringLower(MD5.HashData(cached))));
        var failed = await BashAsync($"cat {Q(mnt)}/docs/uncached.bin > /dev/null", timeout: TimeSpan.FromSeconds(60));
        Assert.That(failed.ExitCode, Is.Not.Zero);
        Assert.That(failed.Stderr, Does.Contain("Network is unreachable"));
        Assert.That(mount.Stderr, Does.Contain("unreachable"));

        await start();
        string? back = null;
        for (int i = 0; i < 40 && back is null; i++)
        {
            var r = await BashAsync($"md5sum < {Q(mnt)}/docs/uncached.bin");
            if (r.ExitCode == 0) back = r.Stdout.Split(' ')[0];
            else await Task.Delay(500);
        }
        Assert.That(back, Is.EqualTo(Convert.ToHexStringLower(MD5.HashData(uncached))), "the mount works again without remounting");
    }

    private static async Task<string> WriteWhileTheBucketVanishes(S3Server s, string bucket, string mnt, string file, string text)
    {
        string flags = Paths.NewDir("flags");
        var writer = BashAsync($$"""
            python3 - <<'EOF'
            import errno, os, time
            f = open({{Q(Path.Combine(mnt, file))}}, "w")
            f.write({{System.Text.Json.JsonSerializer.Serialize(text)}})
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
        while (!File.Exists(Path.Combine(flags, "opened")) && !writer.IsCompleted) await Task.Delay(50);
        using (var c = s.NewClient())
        {
            foreach (var k in await s.KeysAsync(bucket)) await c.DeleteObjectAsync(bucket, k);
            await c.DeleteBucketAsync(bucket);
        }
        File.WriteAllText(Path.Combine(flags, "go"), "");
        var result = await writer;
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        return result.Stdout.Trim();
    }

    [Test]
    public async Task A_later_mount_uploads_what_an_earlier_one_could_not()
    {
        var s = await TestServers.Swift;
        string bucket = await s.NewBucketAsync("recover");
        string cache = Paths.NewDir("reccache"), mnt = Paths.NewDir("recmnt");
        string[] args = ["--endpoint", s.Endpoint.ToString(), "--cache-dir", cache, "--retries", "2"];
        await using (var first = await MountProcess.StartAsync($"s3://{bucket}", mnt, args, s.Env))
        {
            Assert.That(await WriteWhileTheBucketVanishes(s, bucket, mnt, "results.csv", "a,b\n1,2\n"), Is.EqualTo("EIO"));
            await first.StopAsync();
        }
        var pending = await CloudMountAsync(["cache", "list", "--cache-dir", cache]);
        Assert.That(pending.Stdout, Does.Contain($"pending upload").And.Contain($"s3://{bucket}/results.csv"));

        using (var c = s.NewClient()) await c.PutBucketAsync(bucket);
        await using (var second = await MountProcess.StartAsync($"s3://{bucket}", mnt, args, s.Env))
        {
            byte[]? stored = null;
            for (int i = 0; i < 100 && stored is null; i++)
            {
                stored = await s.GetAsync(bucket, "results.csv");
                if (stored is null) await Task.Delay(100);
            }
            Assert.That(stored, Is.EqualTo(Encoding.UTF8.GetBytes("a,b\n1,2\n")));
            Assert.That(await BashOkAsync($"cat {Q(mnt)}/results.csv"), Is.EqualTo("a,b\n1,2\n"));
            string log = await second.StopAsync();
            Assert.That(log, Does.Contain("recovered results.csv"));
        }
        Assert.That(Directory.GetFiles(Path.Combine(cache, "staging"), "*.data", SearchOption.AllDirectories), Is.Empty);
    }

    [Test]
    public async Task Recovery_never_overwrites_a_newer_object()
    {
        var s = await TestServers.Swift;
        string bucket = await s.NewBucketAsync("conflict");
        string cache = Paths.NewDir("concache"), mnt = Paths.NewDir("conmnt");
        string[] args = ["--endpoint", s.Endpoint.ToString(), "--cache-dir", cache, "--retries", "2"];
        await using (var first = await MountProcess.StartAsync($"s3://{bucket}", mnt, args, s.Env))
        {
            Assert.That(await WriteWhileTheBucketVanishes(s, bucket, mnt, "shared.txt", "mine\n"), Is.EqualTo("EIO"));
            await first.StopAsync();
        }
        using (var c = s.NewClient()) await c.PutBucketAsync(bucket);
        await s.PutAsync(bucket, "shared.txt", Encoding.UTF8.GetBytes("someone else's newer data\n"));
        await using (var second = await MountProcess.StartAsync($"s3://{bucket}", mnt, args, s.Env))
        {
            List<string> keys = [];
            for (int i = 0; i < 100 && keys.Count < 2; i++)
            {
                keys = await s.KeysAsync(bucket);
                if (keys.Count < 2) await Task.Delay(100);
            }
            Assert.That(keys, Has.Count.EqualTo(2));
            string recovered = keys.Single(k => k != "shared.txt");
            Assert.That(recovered, Does.StartWith("shared.txt.cloudmount-recovered-"));
            Assert.That(await s.GetAsync(bucket, recovered), Is.EqualTo(Encoding.UTF8.GetBytes("mine\n")));
            Assert.That(await s.GetAsync(bucket, "shared.txt"), Is.EqualTo(Encoding.UTF8.GetBytes("someone else's newer data\n")));
        }
    }

    [Test]
    public async Task A_large_file_is_stored_exactly_through_parallel_parts()
    {
        var s = await TestServers.Swift;
        string bucket = await s.NewBucketAsync("multipart");
        var data = Random(70 * 1024 * 1024 + 5, 4);
        string local = Path.Combine(Paths.NewDir("mp"), "big.bin");
        await File.WriteAllBytesAsync(local, data);
        string mnt = Paths.NewDir("mpmnt");
        await using var mount = await MountProcess.StartAsync($"s3://{bucket}", mnt, ["--endpoint", s.Endpoint.ToString()], s.Env);
        await BashOkAsync($"dd if={Q(local)} of={Q(mnt)}/big.bin bs=1M status=none");
        string log = await mount.StopAsync();
        Assert.That(Count(log, "PUT") - Count(log, "retries"), Is.EqualTo(7), "start, 5 parts of 16 MiB, complete (plus any retries)");
        var stored = await s.GetAsync(bucket, "big.bin");
        Assert.That(MD5.HashData(stored!), Is.EqualTo(MD5.HashData(data)));
    }

    [Test]
    public async Task Cache_prune_removes_cached_data_and_refuses_while_a_mount_runs()
    {
        // An S3 store's objects are cached; a file:// store is read in place and caches nothing.
        var s = await TestServers.S3rver;
        string bucket = await s.NewBucketAsync("prune");
        await s.PutAsync(bucket, "f.bin", Random(3_000_000, 5));
        string cache = Paths.NewDir("prunecache"), mnt = Paths.NewDir("prunemnt");
        await using (var mount = await MountProcess.StartAsync($"s3://{bucket}", mnt, ["--endpoint", s.Endpoint.ToString(), "--cache-dir", cache], s.Env))
        {
            await BashOkAsync($"cat {Q(mnt)}/f.bin > /dev/null");
            var busy = await CloudMountAsync(["cache", "prune", "--all", "--cache-dir", cache]);
            Assert.That(busy.ExitCode, Is.EqualTo(2));
            Assert.That(busy.StderrLines.Single(), Does.Contain("in use by a running mount"));
        }
        Assert.That((await CloudMountAsync(["cache", "size", "--cache-dir", cache])).Stdout, Does.StartWith("2.9 MiB cached in 1 object versions"));
        var pruned = await CloudMountAsync(["cache", "prune", "--all", "--cache-dir", cache]);
        Assert.That(pruned.Stdout, Does.Contain("removed 1 object versions"));
        Assert.That((await CloudMountAsync(["cache", "size", "--cache-dir", cache])).Stdout, Does.StartWith("0 B cached in 0 object versions"));

        string local = Paths.NewDir("prunelocal"), localCache = Paths.NewDir("prunelocalcache");
        await File.WriteAllBytesAsync(Path.Combine(local, "g.bin"), Random(3_000_000, 6));
        await using (var mount = await MountProcess.StartAsync("file://" + local, mnt, ["--cache-dir", localCache]))
        {
            Assert.That((await BashOkAsync($"md5sum < {Q(mnt)}/g.bin")).Split(' ')[0],
                Is.EqualTo(Convert.ToHexStringLower(MD5.HashData(Random(3_000_000, 6)))));
        }
        Assert.That((await CloudMountAsync(["cache", "size", "--cache-dir", localCache])).Stdout, Does.StartWith("0 B cached in 0 object versions"),
            "a file:// store is read where it is, not copied into the cache");
    }

    [Test]
    public async Task Metrics_are_served_in_prometheus_text_format()
    {
        int port = TestServers.FreePortRange(1);
        string mnt = Paths.NewDir("metricsmnt");
        await using var mount = await MountProcess.StartAsync("mem://metrics", mnt, ["--metrics-addr", port.ToString()]);
        await BashOkAsync($"echo hello > {Q(mnt)}/a.txt && cat {Q(mnt)}/a.txt && ls {Q(mnt)}");
        string text = await BashOkAsync($"curl -s http://127.0.0.1:{port}/metrics");
        // At least one PUT (the format is what is checked here; exact request counts have tests of their own).
        Assert.That(text, Does.Match(@"cloudmount_requests_total\{[^}]*kind=""put""[^}]*outcome=""ok""[^}]*\} [1-9]"), text);
        Assert.That(text, Does.Contain("cloudmount_bytes_total").And.Contain("cloudmount_request_duration_seconds_bucket"));
    }
}
