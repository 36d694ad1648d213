using System.Text;
using CloudMount.Core.Storage;
using CloudMount.Core.Storage.Gcs;
using CloudMount.Tests.Support;
using static CloudMount.Tests.Support.ProcessRunner;

namespace CloudMount.Tests.Contract;

/// <summary>What is particular to gs:// on our GCS JSON API server: resumable uploads that resume, rewrites in several calls, gzip objects read decoded, bad input.</summary>
[NonParallelizable]
public sealed class GcsTests
{
    private static (GcsTestServer Server, string Bucket, GcsObjectStore Store) NewStore(long singleRequestBytes = 1024 * 1024)
    {
        var server = TestServers.Gcs;
        string bucket = $"gcs-{Guid.NewGuid():n}"[..16];
        server.CreateBucket(bucket);
        return (server, bucket, new GcsObjectStore(bucket, server.Endpoint, _ => Task.FromResult<string?>(null), singleRequestBytes, 256 * 1024));
    }

    [Test]
    public async Task A_resumable_upload_goes_on_after_a_lost_chunk()
    {
        var (server, bucket, store) = NewStore();
        await using var _ = store;
        var data = new byte[3 * 1024 * 1024 + 77];
        new Random(5).NextBytes(data);
        int chunksBefore = server.Requests.GetValueOrDefault("chunk");
        server.FailNextChunk = true;
        var info = await store.WriteAsync("big.bin", ObjectContent.FromBytes(data), ObjectWriteOptions.Default, CancellationToken.None);
        Assert.That(server.FailNextChunk, Is.False, "the server did lose a chunk");
        Assert.That(info.Size, Is.EqualTo(data.Length));
        Assert.That(server.Get(bucket, "big.bin")!.Value.Data, Is.EqualTo(data));
        // 13 chunks of 256 KiB, one sent twice, and one status query.
        Assert.That(server.Requests.GetValueOrDefault("chunk") - chunksBefore, Is.EqualTo(13 + 2));
    }

    [Test]
    public async Task A_copy_loops_on_the_rewrite_token_until_done()
    {
        var (server, bucket, store) = NewStore();
        await using var _ = store;
        var data = new byte[2 * 1024 * 1024 + 5];
        new Random(6).NextBytes(data);
        server.Put(bucket, "src.bin", data);
        int before = server.Requests.GetValueOrDefault("rewrite");
        var copy = await store.CopyAsync("src.bin", "dst/copy.bin", CancellationToken.None);
        Assert.That(server.Requests.GetValueOrDefault("rewrite") - before, Is.EqualTo(3), "1 MiB per call");
        Assert.That(copy.Size, Is.EqualTo(data.Length));
        Assert.That(server.Get(bucket, "dst/copy.bin")!.Value.Data, Is.EqualTo(data));
    }

    [Test]
    public async Task Gzip_objects_are_served_as_stored_and_read_decoded_through_a_mount_and_metadata_round_trips()
    {
        var (server, bucket, store) = NewStore();
        await store.DisposeAsync();
        byte[] plain = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Range(0, 40_000).Select(i => $"{i},{i % 7}\n")));
        var gz = new MemoryStream();
        using (var z = new System.IO.Compression.GZipStream(gz, System.IO.Compression.CompressionLevel.Optimal, leaveOpen: true)) z.Write(plain);
        server.Put(bucket, "data.csv", gz.ToArray(), "gzip", new Dictionary<string, string> { ["owner"] = "lab" });
        string mnt = Paths.NewDir("gcsmnt");
        var env = new Dictionary<string, string?> { ["STORAGE_EMULATOR_HOST"] = server.Endpoint.Authority };
        await using var mount = await MountProcess.StartAsync($"gs://{bucket}", mnt, null, env);
        Assert.That(await BashOkAsync($"cat {Q(mnt)}/data.csv"), Is.EqualTo(Encoding.ASCII.GetString(plain)));
        Assert.That(await BashOkAsync($"dd if={Q(mnt)}/data.csv bs=1000 skip=100 count=1 status=none"), Is.EqualTo(Encoding.ASCII.GetString(plain, 100_000, 1000)));
        Assert.That(await BashOkAsync($"getfattr --only-values -n user.owner {Q(mnt)}/data.csv"), Is.EqualTo("lab"));
        await BashOkAsync($"setfattr -n user.stage -v raw {Q(mnt)}/data.csv");
        var stored = server.Get(bucket, "data.csv")!.Value;
        Assert.That(stored.Metadata, Does.ContainKey("stage").WithValue("raw"));
        Assert.That(stored.ContentEncoding, Is.EqualTo("gzip"), "a metadata change keeps the encoding");
        Assert.That(stored.Data, Is.EqualTo(gz.ToArray()));
        await mount.StopAsync();
    }

    [Test]
    public async Task Bad_input_gives_one_clear_line()
    {
        var server = TestServers.Gcs;
        string mnt = Paths.NewDir("gcsbad");
        var env = new Dictionary<string, string?> { ["STORAGE_EMULATOR_HOST"] = server.Endpoint.Authority };
        var missing = await CloudMountAsync(["mount", "gs://no-such-bucket", mnt], env, TimeSpan.FromSeconds(60));
        Assert.That((missing.ExitCode, missing.StderrLines.Length), Is.EqualTo((1, 1)), missing.ToString());
        Assert.That(missing.StderrLines[0], Does.Contain("'no-such-bucket' does not exist"));

        var web = await TestServers.Nginx;
        var garbage = await CloudMountAsync(["mount", "gs://some-bucket", mnt, "--endpoint", web.Endpoint.ToString(), "--no-sign-request"], null, TimeSpan.FromSeconds(60));
        Assert.That((garbage.ExitCode, garbage.StderrLines.Length), Is.EqualTo((1, 1)), garbage.ToString());
        Assert.That(garbage.StderrLines[0], Does.Contain("not a JSON API error body"));

        var noCredentials = await CloudMountAsync(["ls", "gs://some-bucket"], new Dictionary<string, string?>
        {
            ["STORAGE_EMULATOR_HOST"] = null, ["GOOGLE_APPLICATION_CREDENTIALS"] = "/nonexistent/key.json", ["HOME"] = Paths.NewDir("gcshome"),
        }, TimeSpan.FromSeconds(60));
        Assert.That((noCredentials.ExitCode, noCredentials.StderrLines.Length), Is.EqualTo((1, 1)), noCredentials.ToString());
        Assert.That(noCredentials.StderrLines[0], Does.Contain("no usable Google credentials"));
        Assert.That(Mounts.IsMounted(mnt), Is.False);
    }

    [Test]
    public async Task Multipart_uploads_compose_parts_in_two_rounds_above_32_and_leave_no_parts()
    {
        var (server, bucket, store) = NewStore();
        await using var _ = store;
        var data = new byte[40 * 1000];
        new Random(8).NextBytes(data);
        var content = ObjectContent.FromBytes(data);
        var upload = await store.Multipart.StartAsync("composed.bin", new ObjectWriteOptions { Metadata = new Dictionary<string, string> { ["k"] = "v" } }, CancellationToken.None);
        int before = server.Requests.GetValueOrDefault("compose");
        foreach (int part in Enumerable.Range(1, 40).Reverse())
        {
            await upload.UploadPartAsync(part, content.Slice((part - 1) * 1000, 1000), CancellationToken.None);
        }
        var info = await upload.CompleteAsync(40, data.Length, CancellationToken.None);
        Assert.That(info.Size, Is.EqualTo(data.Length));
        Assert.That(server.Get(bucket, "composed.bin")!.Value.Data, Is.EqualTo(data));
        Assert.That(server.Get(bucket, "composed.bin")!.Value.Metadata, Does.ContainKey("k").WithValue("v"));
        Assert.That(server.Requests.GetValueOrDefault("compose") - before, Is.EqualTo(2 + 1), "two groups of at most 32, then the final compose");
        Assert.That(server.Keys(bucket), Is.EqualTo(new[] { "composed.bin" }), "no temporary parts remain");
    }

    [Test]
    public async Task A_large_file_written_through_a_mount_goes_up_in_parts_while_written()
    {
        var (server, bucket, store) = NewStore();
        await store.DisposeAsync();
        string mnt = Paths.NewDir("gcsbig");
        var env = new Dictionary<string, string?> { ["STORAGE_EMULATOR_HOST"] = server.Endpoint.Authority };
        await using var mount = await MountProcess.StartAsync($"gs://{bucket}", mnt, null, env);
        string src = Path.Combine(Paths.NewDir("gcsbigsrc"), "big.bin");
        var data = new byte[40 * 1024 * 1024 + 3];
        new Random(9).NextBytes(data);
        await File.WriteAllBytesAsync(src, data);
        int before = server.Requests.GetValueOrDefault("compose");
        await BashOkAsync($"cp {Q(src)} {Q(mnt)}/big.bin && cmp {Q(src)} {Q(mnt)}/big.bin");
        Assert.That(server.Get(bucket, "big.bin")!.Value.Data, Is.EqualTo(data));
        Assert.That(server.Requests.GetValueOrDefault("compose") - before, Is.EqualTo(1), "parts composed once at close");
        Assert.That(server.Keys(bucket), Is.EqualTo(new[] { "big.bin" }));
        await mount.StopAsync();
    }
}
