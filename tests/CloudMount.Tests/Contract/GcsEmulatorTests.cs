using System.Security.Cryptography;
using CloudMount.Core.Storage;
using CloudMount.Core.Storage.Gcs;
using CloudMount.Tests.Support;
using static CloudMount.Tests.Support.ProcessRunner;

namespace CloudMount.Tests.Contract;

/// <summary>
/// gs:// on Google's own Cloud Storage emulator (firebase-tools): the request shapes its parsers expect (a multipart
/// part with one header line; a resumable body in one PUT) and the fallbacks for what it lacks (compose), with exact
/// bytes from 0 bytes to 100 MiB through a mount and through <c>cloudmount cp</c>.
/// </summary>
[NonParallelizable]
public sealed class GcsEmulatorTests
{
    private static byte[] Random(int n, int seed)
    {
        var b = new byte[n];
        new Random(seed).NextBytes(b);
        return b;
    }

    private static Dictionary<string, string?> Env(IGcsServer server) => new() { ["STORAGE_EMULATOR_HOST"] = server.Endpoint.Authority };

    [Test]
    public async Task Uploads_store_exactly_the_bytes_sent_multipart_resumable_and_markers()
    {
        var server = await TestServers.GcsEmulator;
        string bucket = server.NewBucket("shapes");
        await using var store = new GcsObjectStore(bucket, server.Endpoint, _ => Task.FromResult<string?>(null));
        var small = Random(3_000_000, 1);
        var large = Random(17 * 1024 * 1024 + 5, 2);
        var a = await store.WriteAsync("a.bin", ObjectContent.FromBytes(small), ObjectWriteOptions.Default, CancellationToken.None);
        var b = await store.WriteAsync("b.bin", ObjectContent.FromBytes(large), ObjectWriteOptions.Default, CancellationToken.None);
        var d = await store.WriteAsync("dir/", ObjectContent.FromBytes(ReadOnlyMemory<byte>.Empty), ObjectWriteOptions.Default, CancellationToken.None);
        Assert.That((a.Size, b.Size, d.Size), Is.EqualTo((3_000_000L, (long)large.Length, 0L)), "sizes the service reports");
        Assert.That(a.Md5, Is.EqualTo(Convert.ToHexStringLower(MD5.HashData(small))));
        Assert.That(b.Crc32c, Is.EqualTo(Crc32C.Compute(large)));
        Assert.That(await server.GetAsync(bucket, "a.bin"), Is.EqualTo(small));
        Assert.That(await server.GetAsync(bucket, "b.bin"), Is.EqualTo(large));
        Assert.That(await server.GetAsync(bucket, "dir/"), Is.Empty);
    }

    [Test]
    public async Task Files_from_0_bytes_to_100_MiB_keep_exact_bytes_through_a_mount_and_cloudmount_cp()
    {
        var server = await TestServers.GcsEmulator;
        string bucket = server.NewBucket("sizes");
        string local = Paths.NewDir("gcsemusizes"), mnt = Paths.NewDir("gcsemumnt");
        int[] sizes = [0, 1, 3_000_000, 16 * 1024 * 1024 + 1, 40 * 1024 * 1024, 100 * 1024 * 1024];
        foreach (int n in sizes) await File.WriteAllBytesAsync(Path.Combine(local, $"f{n}"), Random(n, n % 1000));
        await using (var mount = await MountProcess.StartAsync($"gs://{bucket}", mnt, ["-v"], Env(server)))
        {
            await BashOkAsync($"mkdir {Q(mnt)}/m && for f in {Q(local)}/f*; do cp \"$f\" {Q(mnt)}/m/; done");
            foreach (int n in sizes)
            {
                await BashOkAsync($"cmp {Q(Path.Combine(local, $"f{n}"))} {Q(mnt)}/m/f{n}");
            }
            string log = await mount.StopAsync();
            Assert.That(log, Does.Contain("has no objects.compose"), "the fallback for large files is said in a debug line");
        }
        Assert.That(await server.GetAsync(bucket, "m/"), Is.Empty, "mkdir stores a 0-byte marker");
        foreach (int n in sizes)
        {
            var stored = await server.GetAsync(bucket, $"m/f{n}");
            Assert.That(stored!.Length, Is.EqualTo(n), $"f{n} through the mount");
            Assert.That(MD5.HashData(stored), Is.EqualTo(MD5.HashData(await File.ReadAllBytesAsync(Path.Combine(local, $"f{n}")))));
        }
        Assert.That(await server.KeysAsync(bucket, ".cloudmount-parts/"), Is.Empty, "no temporary parts remain");
        foreach (int n in sizes)
        {
            await CloudMountOkAsync(["cp", Path.Combine(local, $"f{n}"), $"gs://{bucket}/cp/f{n}"], Env(server));
            var stored = await server.GetAsync(bucket, $"cp/f{n}");
            Assert.That(MD5.HashData(stored!), Is.EqualTo(MD5.HashData(await File.ReadAllBytesAsync(Path.Combine(local, $"f{n}")))), $"f{n} through cloudmount cp");
        }
    }

    private static async Task CloudMountOkAsync(string[] args, Dictionary<string, string?> env)
    {
        var r = await CloudMountAsync(args, env, TimeSpan.FromMinutes(3));
        Assert.That(r.ExitCode, Is.Zero, r.ToString());
    }
}
