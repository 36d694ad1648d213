using System.Text;
using CloudMount.Core.Storage;
using CloudMount.Core.Storage.Swift;
using CloudMount.Tests.Support;
using static CloudMount.Tests.Support.ProcessRunner;

namespace CloudMount.Tests.Contract;

/// <summary>
/// Swift's large objects on the Debian Swift: what we write as static large objects (segments in
/// <c>CONTAINER_segments</c>, manifest last, old segments removed on overwrite and delete), and manifests that
/// another client made (SLO and DLO) read through the store and through a mount.
/// </summary>
[NonParallelizable]
public sealed class SwiftLargeObjectTests
{
    private static byte[] Random(int length, int seed)
    {
        var b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }

    /// <summary>Raw Swift API requests as another client makes them.</summary>
    private static async Task<(HttpClient Http, SwiftSession Session)> RawAsync(S3Server server)
    {
        var http = new HttpClient();
        var session = await server.SwiftAuth.AuthenticateAsync(http, CancellationToken.None);
        http.DefaultRequestHeaders.Add("X-Auth-Token", session.Token);
        return (http, session);
    }

    private static async Task<List<string>> NamesAsync(HttpClient http, SwiftSession s, string container)
    {
        var r = await http.GetAsync($"{s.StorageUrl}/{container}?format=json");
        if (r.StatusCode == System.Net.HttpStatusCode.NotFound) return [];
        string json = await r.Content.ReadAsStringAsync();
        return json.Length == 0 ? [] : System.Text.Json.JsonDocument.Parse(json).RootElement.EnumerateArray().Select(e => e.GetProperty("name").GetString()!).ToList();
    }

    private static async Task<byte[]> ReadAllAsync(IObjectStore store, string key, ByteRange range)
    {
        await using var r = await store.ReadAsync(key, range, null, CancellationToken.None);
        using var ms = new MemoryStream();
        await r.Content.CopyToAsync(ms);
        return ms.ToArray();
    }

    [Test]
    public async Task Objects_above_the_single_put_limit_become_static_large_objects_and_their_segments_are_cleaned_up()
    {
        var server = await TestServers.Swift;
        string container = await server.NewBucketAsync("slo");
        await using var store = new SwiftObjectStore(container, server.SwiftAuth, singlePutBytes: 1024 * 1024, segmentBytes: 1024 * 1024);
        var (http, s) = await RawAsync(server);
        using var _ = http;
        byte[] data = Random(3 * 1024 * 1024 + 123, 1);

        var info = await store.WriteAsync("big/file.bin", ObjectContent.FromBytes(data), new ObjectWriteOptions { Metadata = new Dictionary<string, string> { ["k"] = "v" } }, CancellationToken.None);
        Assert.That(info.Size, Is.EqualTo(data.Length));
        var head = await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"{s.StorageUrl}/{container}/big/file.bin"));
        Assert.That(head.Headers.GetValues("X-Static-Large-Object").Single(), Is.EqualTo("True"));
        Assert.That(head.Headers.GetValues("X-Object-Meta-K").Single(), Is.EqualTo("v"));
        var segments = await NamesAsync(http, s, container + "_segments");
        Assert.That(segments, Has.Count.EqualTo(4).And.All.StartsWith("big/file.bin/slo/"));

        Assert.That(await ReadAllAsync(store, "big/file.bin", ByteRange.All), Is.EqualTo(data), "the whole object (no MD5 check on a manifest ETag)");
        Assert.That(await ReadAllAsync(store, "big/file.bin", new ByteRange(1024 * 1024 - 10, 30)), Is.EqualTo(data[(1024 * 1024 - 10)..(1024 * 1024 + 20)]), "a range across segments");
        var listed = (await store.ListAsync(new ListRequest("big/"), CancellationToken.None)).Objects.Single();
        var headed = await store.HeadAsync("big/file.bin", CancellationToken.None);
        Assert.That((listed.Size, listed.ETag), Is.EqualTo((headed!.Size, headed.ETag)), "a listing and a HEAD agree on size and ETag, so reads pinned to the listed ETag work");
        Assert.That(await ReadAllAsync(store, "big/file.bin", new ByteRange(5, 5)), Is.EqualTo(data[5..10]));
        await using (var pinned = await store.ReadAsync("big/file.bin", new ByteRange(0, 4), listed.ETag, CancellationToken.None))
        {
            Assert.That(pinned.Info.ETag, Is.EqualTo(listed.ETag));
        }

        // Replaced by another large object, then by a small one: the old segments go each time.
        byte[] second = Random(2 * 1024 * 1024 + 5, 2);
        await store.WriteAsync("big/file.bin", ObjectContent.FromBytes(second), ObjectWriteOptions.Default, CancellationToken.None);
        var after = await NamesAsync(http, s, container + "_segments");
        Assert.That(after, Has.Count.EqualTo(3));
        Assert.That(after.Intersect(segments), Is.Empty);
        Assert.That(await ReadAllAsync(store, "big/file.bin", ByteRange.All), Is.EqualTo(second));
        await store.WriteAsync("big/file.bin", ObjectContent.FromBytes("small"u8.ToArray()), ObjectWriteOptions.Default, CancellationToken.None);
        Assert.That(await NamesAsync(http, s, container + "_segments"), Is.Empty);

        // Deleting a large object deletes its segments.
        await store.WriteAsync("other.bin", ObjectContent.FromBytes(data), ObjectWriteOptions.Default, CancellationToken.None);
        Assert.That(await NamesAsync(http, s, container + "_segments"), Is.Not.Empty);
        await store.DeleteAsync("other.bin", CancellationToken.None);
        Assert.That(await NamesAsync(http, s, container + "_segments"), Is.Empty);
        Assert.That(await NamesAsync(http, s, container), Is.EqualTo(new[] { "big/file.bin" }));
    }

    [Test]
    public async Task Manifests_another_client_made_read_whole_through_a_mount_and_large_files_written_there_are_stored_as_slo()
    {
        var server = await TestServers.Swift;
        string container = await server.NewBucketAsync("manifests");
        var (http, s) = await RawAsync(server);
        using var _ = http;
        string url = $"{s.StorageUrl}/{container}";
        byte[] a = Random(700_000, 3), b = Random(300_001, 4);
        foreach (var (name, part) in new[] { ("segs/1", a), ("segs/2", b) })
        {
            (await http.PutAsync($"{url}/{name}", new ByteArrayContent(part))).EnsureSuccessStatusCode();
        }
        // A dynamic large object: a zero-byte manifest naming a prefix.
        var dlo = new HttpRequestMessage(HttpMethod.Put, $"{url}/dlo.bin") { Content = new ByteArrayContent([]) };
        dlo.Headers.Add("X-Object-Manifest", $"{container}/segs/");
        (await http.SendAsync(dlo)).EnsureSuccessStatusCode();
        // A static large object, as python-swiftclient writes one.
        string manifest = $$"""[{"path": "/{{container}}/segs/1"}, {"path": "/{{container}}/segs/2"}]""";
        (await http.PutAsync($"{url}/slo.bin?multipart-manifest=put", new StringContent(manifest, Encoding.UTF8, "application/json"))).EnsureSuccessStatusCode();
        byte[] whole = [.. a, .. b];

        string mnt = Paths.NewDir("manifestmnt");
        await using var mount = await MountProcess.StartAsync($"swift://{container}", mnt, null, server.SwiftEnv);
        string m = Q(mnt);
        string want = Convert.ToHexStringLower(System.Security.Cryptography.MD5.HashData(whole));
        foreach (string name in new[] { "slo.bin", "dlo.bin" })
        {
            Assert.That((await BashOkAsync($"cat {m}/{name} | md5sum")).Split(' ')[0], Is.EqualTo(want), name);
            Assert.That((await BashOkAsync($"dd if={m}/{name} bs=1000 skip=699 count=2 status=none | md5sum")).Split(' ')[0],
                Is.EqualTo(Convert.ToHexStringLower(System.Security.Cryptography.MD5.HashData(whole.AsSpan(699_000, 2000)))), $"{name} across the segment boundary");
        }
        Assert.That((await BashOkAsync($"stat -c %s {m}/slo.bin")).Trim(), Is.EqualTo(whole.Length.ToString()), "an SLO lists with its whole size");

        // A file past the streaming threshold written through the mount goes up as a static large object.
        string src = WriteTemp(Random(40 * 1024 * 1024 + 9, 5));
        await BashOkAsync($"cp {Q(src)} {m}/written.bin && cmp {Q(src)} {m}/written.bin");
        var head = await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"{url}/written.bin"));
        Assert.That(head.Headers.TryGetValues("X-Static-Large-Object", out var slo) && slo.Single() == "True", Is.True, "stored as an SLO");
        Assert.That(head.Content.Headers.ContentLength, Is.EqualTo(40 * 1024 * 1024 + 9));
        await BashOkAsync($"rm {m}/written.bin");
        Assert.That(await NamesAsync(http, s, container + "_segments"), Is.Empty, "rm deletes the segments too");
        await mount.StopAsync();
    }

    private static string WriteTemp(byte[] data)
    {
        string path = Path.Combine(Paths.NewDir("slodata"), "data.bin");
        File.WriteAllBytes(path, data);
        return path;
    }
}
