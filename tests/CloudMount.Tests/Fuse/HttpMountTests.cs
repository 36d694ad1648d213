using System.Security.Cryptography;
using CloudMount.Tests.Support;
using static CloudMount.Tests.Support.ProcessRunner;

namespace CloudMount.Tests.Fuse;

/// <summary>
/// http:// mounts of a folder nginx serves (Debian package): ordinary tools read exact bytes, listings come
/// from the index pages (a HEAD only where sizes are rounded), every change fails with EROFS, and bad URLs
/// give one clear line.
/// </summary>
[NonParallelizable]
public sealed class HttpMountTests
{
    private static async Task<(WebServer Server, string Folder, Dictionary<string, byte[]> Files)> SeedAsync(string name)
    {
        var server = await TestServers.Nginx;
        var files = new Dictionary<string, byte[]>
        {
            ["readme.txt"] = "hello from nginx\nsecond line\n"u8.ToArray(),
            ["data/values.csv"] = System.Text.Encoding.ASCII.GetBytes(string.Concat(Enumerable.Range(0, 50_000).Select(i => $"{i},{i * 0.5}\n"))),
            ["data/deep/blob.bin"] = RandomBytes(3 * 1024 * 1024 + 17),
            ["with space/ü & more.txt"] = "unicode name\n"u8.ToArray(),
        };
        foreach (var (key, data) in files)
        {
            string path = Path.Combine(server.Root, name, key);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            await File.WriteAllBytesAsync(path, data);
        }
        Directory.CreateDirectory(Path.Combine(server.Root, name, "empty"));
        return (server, name, files);
    }

    private static byte[] RandomBytes(int n)
    {
        var b = new byte[n];
        new Random(9).NextBytes(b);
        return b;
    }

    [TestCase("html")]
    [TestCase("json")]
    [TestCase("nosize")]
    public async Task Ordinary_tools_read_exact_bytes_and_every_change_is_refused(string style)
    {
        var (server, folder, files) = await SeedAsync("site-" + style);
        string mnt = Paths.NewDir("httpmnt");
        string m = Q(mnt);
        await using var mount = await MountProcess.StartAsync(server.Url(style, folder).ToString(), mnt, ["--cache-dir", Paths.NewDir("httpcache")]);

        Assert.That(await BashOkAsync($"cd {m} && find . | sort"), Is.EqualTo(
            ".\n./data\n./data/deep\n./data/deep/blob.bin\n./data/values.csv\n./empty\n./readme.txt\n./with space\n./with space/ü & more.txt\n"));
        foreach (var (key, data) in files)
        {
            Assert.That((await BashOkAsync($"stat -c %s {Q(Path.Combine(mnt, key))}")).Trim(), Is.EqualTo(data.Length.ToString()), $"size of {key}");
            Assert.That((await BashOkAsync($"md5sum < {Q(Path.Combine(mnt, key))}")).Split(' ')[0], Is.EqualTo(Convert.ToHexStringLower(MD5.HashData(data))), $"bytes of {key}");
        }
        byte[] blob = files["data/deep/blob.bin"];
        Assert.That((await BashOkAsync($"dd if={m}/data/deep/blob.bin bs=4096 skip=300 count=5 status=none | md5sum")).Split(' ')[0],
            Is.EqualTo(Convert.ToHexStringLower(MD5.HashData(blob.AsSpan(300 * 4096, 5 * 4096)))));
        Assert.That((await BashOkAsync($"python3 -c \"f=open('{mnt}/data/values.csv','rb'); f.seek(100000); print(f.read(12))\"")).Trim(),
            Is.EqualTo("b'" + System.Text.Encoding.ASCII.GetString(files["data/values.csv"], 100000, 12).Replace("\n", "\\n") + "'"));
        int want = System.Text.Encoding.ASCII.GetString(files["data/values.csv"]).Split('\n').Count(l => l.Contains(",2.5", StringComparison.Ordinal));
        Assert.That((await BashOkAsync($"grep -cF ',2.5' {m}/data/values.csv")).Trim(), Is.EqualTo(want.ToString()));
        Assert.That(await BashOkAsync($"tar -C {m} -cf - readme.txt data | tar -tf - | sort"), Does.Contain("data/deep/blob.bin"));

        foreach (string change in new[] { $"touch {m}/new.txt", $"cp {m}/readme.txt {m}/copy.txt", $"mkdir {m}/dir", $"rm {m}/readme.txt",
                     $"mv {m}/readme.txt {m}/moved.txt", $"echo more >> {m}/readme.txt", $"rmdir {m}/empty" })
        {
            var r = await BashAsync(change);
            Assert.That(r.ExitCode, Is.Not.Zero, change);
            Assert.That(r.Stderr, Does.Contain("Read-only file system"), change);
        }
        Assert.That(File.Exists(Path.Combine(server.Root, folder, "readme.txt")), Is.True);
        string log = await mount.StopAsync();
        Assert.That(log, Does.Contain("PUT 0, DELETE 0, COPY 0"));
        if (style != "nosize")
        {
            Assert.That(log, Does.Contain("HEAD 0,"), "sizes and dates come from the index");
        }
        else
        {
            Assert.That(log, Does.Not.Contain("HEAD 0,"), "a rounded size (3.0M) costs a HEAD, and the count says so");
        }
    }

    [Test]
    public async Task Files_added_on_the_server_show_up_after_the_ttl()
    {
        var (server, folder, _) = await SeedAsync("site-live");
        string mnt = Paths.NewDir("httplive");
        await using var mount = await MountProcess.StartAsync(server.Url("json", folder).ToString(), mnt, ["--cache-dir", Paths.NewDir("httpcache")]);
        Assert.That(await BashOkAsync($"ls {Q(mnt)}"), Does.Not.Contain("later.txt"));
        await File.WriteAllTextAsync(Path.Combine(server.Root, folder, "later.txt"), "added later\n");
        await Task.Delay(1500);
        Assert.That(await BashOkAsync($"ls {Q(mnt)}"), Does.Contain("later.txt"));
        Assert.That(await BashOkAsync($"cat {Q(mnt)}/later.txt"), Is.EqualTo("added later\n"));
        await mount.StopAsync();
    }

    [Test]
    public async Task Bad_urls_fail_with_one_clear_line()
    {
        var server = await TestServers.Nginx;
        string mnt = Paths.NewDir("httpbad");
        var missing = await CloudMountAsync(["mount", server.Url("html", "no-such-folder").ToString(), mnt], timeout: TimeSpan.FromSeconds(60));
        Assert.That((missing.ExitCode, missing.StderrLines.Length), Is.EqualTo((1, 1)), missing.ToString());
        Assert.That(missing.StderrLines[0], Does.Contain("no-such-folder"));

        // A folder whose index page is not a listing (an index.html of prose).
        Directory.CreateDirectory(Path.Combine(server.Root, "prose"));
        await File.WriteAllTextAsync(Path.Combine(server.Root, "prose", "index.html"), "Just some words, no links.");
        var garbage = await CloudMountAsync(["mount", server.Url("html", "prose").ToString(), mnt], timeout: TimeSpan.FromSeconds(60));
        Assert.That((garbage.ExitCode, garbage.StderrLines.Length), Is.EqualTo((1, 1)), garbage.ToString());
        Assert.That(garbage.StderrLines[0], Does.Contain("cannot read the index page"));

        var unreachable = await CloudMountAsync(["mount", $"http://127.0.0.1:{TestServers.FreePortRange(1)}/x/", mnt], timeout: TimeSpan.FromSeconds(60));
        Assert.That((unreachable.ExitCode, unreachable.StderrLines.Length), Is.EqualTo((1, 1)), unreachable.ToString());
        Assert.That(unreachable.StderrLines[0], Does.Contain("cannot reach http://127.0.0.1"));
        Assert.That(Mounts.IsMounted(mnt), Is.False);
    }

    [Test]
    public async Task Use_https_reads_a_public_bucket_over_plain_http_from_its_s3_listing()
    {
        // s3rver answers unsigned requests, as a public bucket does.
        var s3 = await TestServers.S3rver;
        string bucket = await s3.NewBucketAsync("public");
        byte[] data = RandomBytes(200_000);
        // (s3rver drops a prefix that holds only deeper prefixes, so runs/ holds a file too.)
        await s3.PutAsync(bucket, "runs/7/result.bin", data);
        await s3.PutAsync(bucket, "runs/index.txt", "7\n"u8.ToArray());
        await s3.PutAsync(bucket, "readme.txt", "public data\n"u8.ToArray());
        string[] web = ["--use-https", "--endpoint", s3.Endpoint.ToString()];
        var env = new Dictionary<string, string?> { ["AWS_ACCESS_KEY_ID"] = null, ["AWS_SECRET_ACCESS_KEY"] = null };
        var cat = await CloudMountAsync(["cat", $"s3://{bucket}/readme.txt", .. web], env);
        Assert.That(cat.Stdout, Is.EqualTo("public data\n"), cat.ToString());
        var ls = await CloudMountAsync(["ls", "-r", $"s3://{bucket}/runs/", .. web], env);
        Assert.That(ls.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1]),
            Is.EqualTo(new[] { "runs/7/result.bin", "runs/index.txt" }), "keys relative to the bucket, as for s3://");
        var missing = await CloudMountAsync(["ls", "s3://no-such-public-bucket", .. web], env);
        Assert.That((missing.ExitCode, missing.StderrLines.Length), Is.EqualTo((1, 1)), missing.ToString());
        Assert.That(missing.StderrLines[0], Does.Contain("bucket 'no-such-public-bucket' does not exist"));

        string mnt = Paths.NewDir("usehttps");
        await using var mount = await MountProcess.StartAsync($"s3://{bucket}", mnt, web, env);
        Assert.That(await BashOkAsync($"cd {Q(mnt)} && find . -type f | sort"), Is.EqualTo("./readme.txt\n./runs/7/result.bin\n./runs/index.txt\n"));
        Assert.That((await BashOkAsync($"stat -c %s {Q(mnt)}/runs/7/result.bin")).Trim(), Is.EqualTo("200000"));
        Assert.That((await BashOkAsync($"md5sum < {Q(mnt)}/runs/7/result.bin")).Split(' ')[0], Is.EqualTo(Convert.ToHexStringLower(MD5.HashData(data))));
        var write = await BashAsync($"touch {Q(mnt)}/new");
        Assert.That(write.Stderr, Does.Contain("Read-only file system"));
        string log = await mount.StopAsync();
        Assert.That(log, Does.Contain("HEAD 0,").And.Contain("PUT 0,"));
    }
}
