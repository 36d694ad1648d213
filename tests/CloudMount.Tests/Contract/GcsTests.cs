using System.Text;
using CloudMount.Core.Storage;
using CloudMount.Core.Storage.Gcs;
using CloudMount.Tests.Support;
using static CloudMount.Tests.Support.ProcessRunner;

namespace CloudMount.Tests.Contract;

/// <summary>
/// What is particular to gs://: on our GCS JSON API server the preferred paths (a resumable upload that resumes from the
/// committed offset, compose, rewrites in several calls), gzip objects read decoded, bad input; on Google's emulator the
/// request shapes its parsers expect and the fallbacks for what it lacks. Emulator-only tests are in <see cref="GcsEmulatorTests"/>.
/// </summary>
[NonParallelizable]
public sealed class GcsTests
{
    private static (GcsTestServer Server, string Bucket, GcsObjectStore Store) NewStore(long singleRequestBytes = 1024 * 1024)
    {
        var server = TestServers.Gcs;
        string bucket = $"gcs-{Guid.NewGuid():n}"[..16];
        server.CreateBucket(bucket);
        return (server, bucket, new GcsObjectStore(bucket, server.Endpoint, _ => Task.FromResult<string?>(null), singleRequestBytes));
    }

    [Test]
    public async Task A_resumable_upload_sends_one_put_and_after_a_failure_resumes_from_the_committed_offset()
    {
        var (server, bucket, store) = NewStore();
        await using var _ = store;
        var data = new byte[3 * 1024 * 1024 + 77];
        new Random(5).NextBytes(data);
        int before = server.Requests.GetValueOrDefault("chunk");
        var first = await store.WriteAsync("one.bin", ObjectContent.FromBytes(data), ObjectWriteOptions.Default, CancellationToken.None);
        Assert.That(server.Requests.GetValueOrDefault("chunk") - before, Is.EqualTo(1), "the whole body in one PUT");
        Assert.That(first.Size, Is.EqualTo(data.Length));

        before = server.Requests.GetValueOrDefault("chunk");
        server.FailNextChunk = true;
        var info = await store.WriteAsync("big.bin", ObjectContent.FromBytes(data), ObjectWriteOptions.Default, CancellationToken.None);
        Assert.That(server.FailNextChunk, Is.False, "the server did cut the PUT off");
        Assert.That(info.Size, Is.EqualTo(data.Length));
        Assert.That(server.Get(bucket, "big.bin")!.Value.Data, Is.EqualTo(data));
        // The PUT that broke off, a status query of a scratch session (is this a GCS that answers 308?), the status
        // query of the upload's own session, and one PUT of the rest from the committed offset.
        Assert.That(server.Requests.GetValueOrDefault("chunk") - before, Is.EqualTo(4));
        Assert.That(server.Keys(bucket), Is.EquivalentTo(new[] { "one.bin", "big.bin" }), "the scratch session stored nothing");
    }

    [Test]
    public async Task Names_with_reserved_and_non_ascii_characters_round_trip_and_list([Values("emulator", "ours")] string kind)
    {
        var server = await TestServers.GcsServer(kind);
        await using var store = new GcsObjectStore(server.NewBucket("names"), server.Endpoint, _ => Task.FromResult<string?>(null));
        string[] keys = ["we#ird/a?b.txt", "we#ird/100%25 sure.txt", "we#ird/sp ace/ü 文件.txt", "we#ird/plus+and&amp=.txt"];
        foreach (var (k, i) in keys.Select((k, i) => (k, i)))
        {
            await store.WriteAsync(k, ObjectContent.FromBytes(Encoding.UTF8.GetBytes(k)), ObjectWriteOptions.Default, CancellationToken.None);
        }
        foreach (string k in keys)
        {
            await using var r = await store.ReadAsync(k, ByteRange.All, null, CancellationToken.None);
            Assert.That(await new StreamReader(r.Content).ReadToEndAsync(), Is.EqualTo(k));
            Assert.That((await store.HeadAsync(k, CancellationToken.None))!.Key, Is.EqualTo(k));
        }
        var page = await store.ListAsync(new ListRequest("we#ird/", "/"), CancellationToken.None);
        Assert.That(page.Objects.Select(o => o.Key), Is.EquivalentTo(keys.Where(k => k.Count(c => c == '/') == 1)));
        Assert.That(page.CommonPrefixes, Is.EqualTo(new[] { "we#ird/sp ace/" }));
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

    [Test]
    public async Task A_server_that_stores_other_bytes_than_sent_fails_the_close_and_the_data_stays_in_staging()
    {
        var (server, bucket, store) = NewStore();
        await store.DisposeAsync();
        server.Put(bucket, "keep.bin", Encoding.ASCII.GetBytes("the good old bytes"));
        string mnt = Paths.NewDir("gcsbadsize"), cache = Paths.NewDir("gcsbadcache");
        var env = new Dictionary<string, string?> { ["STORAGE_EMULATOR_HOST"] = server.Endpoint.Authority };
        await using var mount = await MountProcess.StartAsync($"gs://{bucket}", mnt, ["--retries", "2", "--cache-dir", cache], env);
        var data = new byte[3_000_000];
        new Random(11).NextBytes(data);
        string src = Path.Combine(Paths.NewDir("gcsbadsrc"), "new.bin");
        await File.WriteAllBytesAsync(src, data);
        server.CorruptUploads = true;
        ProcessResult cp;
        try
        {
            cp = await BashAsync($"cp {Q(src)} {Q(mnt)}/new.bin");
        }
        finally
        {
            server.CorruptUploads = false;
        }
        Assert.That(cp.ExitCode, Is.Not.Zero, "close() must fail");
        Assert.That(cp.Stderr, Does.Contain("Input/output error"));
        Assert.That(mount.Stderr, Does.Contain("new.bin").And.Contain("stored 3000002 bytes, we sent 3000000"), "the log names the key and both values");
        var staged = Directory.GetFiles(Path.Combine(cache, "staging"), "*.data", SearchOption.AllDirectories);
        Assert.That(staged.Select(f => File.ReadAllBytes(f).AsSpan().SequenceEqual(data)), Does.Contain(true), "the data is kept in staging");
        await mount.StopAsync();
    }

    [Test]
    public async Task A_read_whose_bytes_differ_from_the_stated_crc32c_fails()
    {
        var (server, bucket, store) = NewStore();
        await using var _ = store;
        var verified = new CloudMount.Core.Storage.Decorators.ReadVerifyingObjectStore(store);
        server.Put(bucket, "good.bin", Encoding.ASCII.GetBytes("good bytes"));
        await using (var ok = await verified.ReadAsync("good.bin", ByteRange.All, null, CancellationToken.None))
        {
            Assert.That(await new StreamReader(ok.Content).ReadToEndAsync(), Is.EqualTo("good bytes"));
            Assert.That(ok.Info.Crc32c, Is.EqualTo(Crc32C.Compute(Encoding.ASCII.GetBytes("good bytes"))));
        }
        server.CorruptReads = true;
        try
        {
            await using var bad = await verified.ReadAsync("good.bin", ByteRange.All, null, CancellationToken.None);
            var e = Assert.ThrowsAsync<IOException>(() => bad.Content.CopyToAsync(Stream.Null));
            Assert.That(e!.Message, Does.Contain("good.bin").And.Contain("CRC32C"));
        }
        finally
        {
            server.CorruptReads = false;
        }
    }
}
