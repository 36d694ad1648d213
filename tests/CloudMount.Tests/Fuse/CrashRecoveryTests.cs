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

        foreach (int delayMs in new[] { 300, 900, 1600, 2500, 4000 })
        {
            string cache = Paths.NewDir("kill9cache");
            string mnt = Paths.NewDir("kill9mnt");
            string[] mountArgs = [.. args, "--cache-dir", cache];
            var mount = await MountProcess.StartAsync($"s3://{bucket}", mnt, mountArgs, s.Env);
            var cp = BashAsync($"cp {Q(src)} {Q(mnt)}/big.bin", timeout: TimeSpan.FromMinutes(2));
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
            await using (var next = await MountProcess.StartAsync($"s3://{bucket}", mnt, mountArgs, s.Env))
            {
                for (int i = 0; i < 300; i++)
                {
                    var pending = await CloudMountAsync(["cache", "list", "--cache-dir", cache]);
                    if (!pending.Stdout.Contains("pending upload", StringComparison.Ordinal)) break;
                    await Task.Delay(200);
                }
            }
            var list = await CloudMountAsync(["cache", "list", "--cache-dir", cache]);
            Assert.That(list.Stdout, Does.Not.Contain("pending upload"), $"kill after {delayMs} ms: everything was recovered\n{list}");
            string? stored = await s.GetAsync(bucket, "big.bin") is { } b ? Hex(MD5.HashData(b)) : null;
            Assert.That(stored, Is.AnyOf(oldMd5, newMd5), $"kill after {delayMs} ms: big.bin is the old or the new file, never a part");
            if (copied.ExitCode == 0 && reached)
            {
                Assert.That(stored, Is.EqualTo(newMd5), $"kill after {delayMs} ms: cp had finished, so the new bytes are stored");
            }
            var recoveredKeys = (await s.KeysAsync(bucket)).Where(k => k.StartsWith("big.bin.cloudmount-recovered-", StringComparison.Ordinal)).ToList();
            TestContext.Out.WriteLine($"kill after {delayMs} ms: cp exit {copied.ExitCode}{(reached ? "" : " (never reached the mount)")}, big.bin {(stored == newMd5 ? "new" : "old")}, {recoveredKeys.Count} recovered copies");
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
            Assert.That(uploads.MultipartUploads ?? [], Is.Empty, $"kill after {delayMs} ms: no multipart upload is left open");
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
