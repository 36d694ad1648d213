using System.Security.Cryptography;
using Amazon.S3.Model;
using CloudMount.Tests.Support;
using static CloudMount.Tests.Support.ProcessRunner;

namespace CloudMount.Tests.Fuse;

/// <summary>
/// kill -9 of a mount at every phase of an upload, and unmount with requests in flight: nothing staged is
/// lost, no half-written object replaces a good one, no multipart upload is left open, nothing stays mounted.
/// </summary>
public sealed class CrashRecoveryTests
{
    [Test]
    public async Task Kill_9_at_any_phase_of_an_upload_loses_nothing_and_leaves_no_parts()
    {
        var s = await TestServers.Swift;
        string bucket = await s.NewBucketAsync("kill9");
        var old = new byte[8 << 20];
        new Random(1).NextBytes(old);
        await s.PutAsync(bucket, "big.bin", old);
        var fresh = new byte[48 << 20];
        new Random(2).NextBytes(fresh);
        string src = Path.Combine(Paths.NewDir("kill9src"), "new.bin");
        await File.WriteAllBytesAsync(src, fresh);
        string oldMd5 = Hex(MD5.HashData(old)), newMd5 = Hex(MD5.HashData(fresh));
        string[] args = ["--endpoint", s.Endpoint.ToString()];

        // Phases: while the file is written (8 MiB in: one PUT would follow; 40 MiB in: parts go up in the
        // background), while close() uploads it (30 and 250 ms after the last write), and after close() returned.
        foreach (var (phase, delayMs) in new[] { ("w8", 0), ("w40", 0), ("written", 30), ("written", 250), ("closed", 0) })
        {
            string cache = Paths.NewDir("kill9cache");
            string mnt = Paths.NewDir("kill9mnt");
            string flags = Paths.NewDir("kill9flag");
            string[] mountArgs = [.. args, "--cache-dir", cache];
            var mount = await MountProcess.StartAsync($"s3://{bucket}", mnt, mountArgs, s.Env);
            var cp = BashAsync($$"""
                python3 - <<'EOF'
                import os
                flags = {{Q(flags)}}
                def flag(name):
                    open(os.path.join(flags, name), "w").close()
                src = open({{Q(src)}}, "rb")
                dst = open({{Q(Path.Combine(mnt, "big.bin"))}}, "wb")
                n = 0
                while True:
                    b = src.read(1 << 20)
                    if not b:
                        break
                    dst.write(b)
                    dst.flush()
                    n += 1
                    if n in (8, 40):
                        flag("w%d" % n)
                flag("written")
                dst.close()
                flag("closed")
                EOF
                """, timeout: TimeSpan.FromMinutes(2));
            while (!File.Exists(Path.Combine(flags, phase)) && !cp.IsCompleted) await Task.Delay(2);
            await Task.Delay(delayMs);
            await BashAsync($"kill -9 {mount.Pid}");
            await BashAsync($"fusermount3 -u -z {Q(mnt)}");
            var copied = await cp;
            await mount.DisposeAsync();
            bool reached = true;
            if (File.Exists(Path.Combine(mnt, "big.bin")))
            {
                // cp started after the mount was gone and wrote into the bare folder: nothing reached the store.
                File.Delete(Path.Combine(mnt, "big.bin"));
                reached = false;
            }

            // The next mount of the store recovers what the dead one staged.
            string recoveryLog;
            await using (var next = await MountProcess.StartAsync($"s3://{bucket}", mnt, mountArgs, s.Env))
            {
                for (int i = 0; i < 300; i++)
                {
                    var pending = await CloudMountAsync(["cache", "list", "--cache-dir", cache]);
                    if (!pending.Stdout.Contains("pending upload", StringComparison.Ordinal)) break;
                    await Task.Delay(200);
                }
                recoveryLog = await next.StopAsync();
            }
            var list = await CloudMountAsync(["cache", "list", "--cache-dir", cache]);
            Assert.That(list.Stdout, Does.Not.Contain("pending upload"), $"kill {delayMs} ms after {phase}: everything was recovered\n{list}");
            string? stored = await s.GetAsync(bucket, "big.bin") is { } b ? Hex(MD5.HashData(b)) : null;
            Assert.That(stored, Is.AnyOf(oldMd5, newMd5), $"kill {delayMs} ms after {phase}: big.bin is the old or the new file, never a part");
            if (copied.ExitCode == 0 && reached)
            {
                Assert.That(stored, Is.EqualTo(newMd5), $"kill {delayMs} ms after {phase}: cp had finished, so the new bytes are stored");
            }
            var recoveredKeys = (await s.KeysAsync(bucket)).Where(k => k.StartsWith("big.bin.cloudmount-recovered-", StringComparison.Ordinal)).ToList();
            TestContext.Out.WriteLine($"kill {delayMs} ms after {phase}: cp exit {copied.ExitCode}{(reached ? "" : " (never reached the mount)")}, big.bin {(stored == newMd5 ? "new" : "old")}, {recoveredKeys.Count} recovered copies");
            foreach (var key in recoveredKeys)
            {
                var recovered = (await s.GetAsync(bucket, key))!;
                Assert.That(recovered.Length, Is.LessThanOrEqualTo(fresh.Length));
                Assert.That(recovered.AsSpan().SequenceEqual(fresh.AsSpan(0, recovered.Length)), $"{key} holds what cp had written");
                using var c0 = s.NewClient();
                await c0.DeleteObjectAsync(bucket, key);
            }
            using var c = s.NewClient();
            var uploads = await c.ListMultipartUploadsAsync(new ListMultipartUploadsRequest { BucketName = bucket });
            Assert.That(uploads.MultipartUploads ?? [], Is.Empty, $"kill {delayMs} ms after {phase}: no multipart upload is left open\n{recoveryLog}");
            await s.PutAsync(bucket, "big.bin", old);
        }
    }

    [Test]
    public async Task Unmount_with_requests_in_flight_exits_cleanly()
    {
        var s = await TestServers.Swift;
        string bucket = await s.NewBucketAsync("inflight");
        var data = new byte[24 << 20];
        new Random(3).NextBytes(data);
        await s.PutAsync(bucket, "data.bin", data);
        for (int i = 0; i < 50; i++) await s.PutAsync(bucket, $"d/f{i}", [(byte)i]);
        string mnt = Paths.NewDir("inflightmnt");
        await using var mount = await MountProcess.StartAsync($"s3://{bucket}", mnt, ["--endpoint", s.Endpoint.ToString(), "--metadata-ttl", "0"], s.Env);
        var load = Enumerable.Range(0, 6).Select(i => BashAsync(
            $"for n in $(seq 200); do cat {Q(mnt)}/data.bin > /dev/null; ls -l {Q(mnt)}/d > /dev/null; echo $n > {Q(mnt)}/w{i}; done 2>/dev/null",
            timeout: TimeSpan.FromMinutes(2))).ToList();
        await Task.Delay(1500);
        await BashAsync($"kill -INT {mount.Pid}");
        await Task.Delay(500);
        await BashAsync($"kill -INT {mount.Pid}");
        string log = await mount.StopAsync();
        await Task.WhenAll(load);
        Assert.That(mount.ExitCode, Is.Zero, log);
        Assert.That(log, Does.Not.Contain("Unhandled exception").And.Not.Contain("disposed object"));
        Assert.That(Mounts.IsMounted(mnt), Is.False);
    }
}
