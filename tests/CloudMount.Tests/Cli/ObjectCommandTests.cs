using System.Text;
using CloudMount.Tests.Support;
using static CloudMount.Tests.Support.ProcessRunner;

namespace CloudMount.Tests.Cli;

/// <summary><c>cloudmount ls/cat/cp/rm/stat</c> against a real S3 server and a local directory.</summary>
public sealed class ObjectCommandTests
{
    [Test]
    public async Task Cp_ls_cat_stat_rm_round_trip_on_s3()
    {
        var s = await TestServers.Swift;
        string bucket = await s.NewBucketAsync("cli");
        string[] ep = ["--endpoint", s.Endpoint.ToString()];
        string local = Paths.NewDir("cli");
        var data = new byte[40 * 1024 * 1024 + 7];
        new Random(11).NextBytes(data);
        await File.WriteAllBytesAsync(Path.Combine(local, "big.bin"), data);
        await File.WriteAllTextAsync(Path.Combine(local, "note.txt"), "hello cli\n");

        Assert.That((await CloudMountAsync(["cp", Path.Combine(local, "big.bin"), $"s3://{bucket}/data/", .. ep], s.Env)).ExitCode, Is.Zero);
        Assert.That((await CloudMountAsync(["cp", Path.Combine(local, "note.txt"), $"s3://{bucket}/data/sub/n.txt", .. ep], s.Env)).ExitCode, Is.Zero);
        Assert.That(await s.GetAsync(bucket, "data/big.bin"), Is.EqualTo(data), "a multipart upload stores exact bytes");

        var ls = await CloudMountAsync(["ls", $"s3://{bucket}/data/", .. ep], s.Env);
        Assert.That(ls.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1]),
            Is.EqualTo(new[] { "big.bin", "sub/" }));
        var lsr = await CloudMountAsync(["ls", "-r", $"s3://{bucket}", .. ep], s.Env);
        Assert.That(lsr.Stdout, Does.Contain($"{data.Length} data/big.bin").And.Contain("10 data/sub/n.txt"));

        var cat = await CloudMountAsync(["cat", $"s3://{bucket}/data/sub/n.txt", .. ep], s.Env);
        Assert.That(cat.Stdout, Is.EqualTo("hello cli\n"));
        var stat = await CloudMountAsync(["stat", $"s3://{bucket}/data/sub/n.txt", .. ep], s.Env);
        Assert.That(stat.Stdout, Does.Contain("size: 10").And.Contain("content-type: text/plain"));

        Assert.That((await CloudMountAsync(["cp", $"s3://{bucket}/data/big.bin", Path.Combine(local, "back.bin"), .. ep], s.Env)).ExitCode, Is.Zero);
        Assert.That(await File.ReadAllBytesAsync(Path.Combine(local, "back.bin")), Is.EqualTo(data));
        Assert.That((await CloudMountAsync(["cp", $"s3://{bucket}/data/sub/n.txt", $"s3://{bucket}/copy.txt", .. ep], s.Env)).ExitCode, Is.Zero);
        Assert.That(Encoding.UTF8.GetString((await s.GetAsync(bucket, "copy.txt"))!), Is.EqualTo("hello cli\n"));

        var rm = await CloudMountAsync(["rm", "-r", $"s3://{bucket}/data/", .. ep], s.Env);
        Assert.That(rm.ExitCode, Is.Zero, rm.ToString());
        Assert.That(await s.KeysAsync(bucket), Is.EqualTo(new[] { "copy.txt" }));
    }

    [Test]
    public async Task Cp_compress_stores_encoded_objects_and_reencode_changes_the_encoding_of_stored_ones()
    {
        var s = await TestServers.Swift;
        string bucket = await s.NewBucketAsync("clizip");
        string[] ep = ["--endpoint", s.Endpoint.ToString()];
        string local = Paths.NewDir("clizip");
        var text = new StringBuilder();
        for (int i = 0; text.Length < 3_000_000; i++) text.Append(i).Append(",value-").Append(i % 97).Append('\n');
        byte[] csv = Encoding.ASCII.GetBytes(text.ToString());
        var png = new byte[50_000];
        new Random(3).NextBytes(png);
        await File.WriteAllBytesAsync(Path.Combine(local, "data.csv"), csv);
        await File.WriteAllBytesAsync(Path.Combine(local, "image.png"), png);

        var up = await CloudMountAsync(["cp", "-r", local, $"s3://{bucket}/z/", "--compress", "zstd", .. ep], s.Env);
        Assert.That(up.ExitCode, Is.Zero, up.ToString());
        var head = await s.HeadAsync(bucket, "z/data.csv");
        Assert.That(head.ContentEncoding, Is.EqualTo("zstd"));
        Assert.That(head.Size, Is.LessThan(csv.Length / 3), "stored compressed");
        Assert.That(head.Metadata, Does.ContainKey("decoded-content-length").WithValue(csv.Length.ToString()));
        // The stored bytes are a plain zstd stream that the Debian tool decodes.
        string raw = Path.Combine(local, "raw.zst");
        await File.WriteAllBytesAsync(raw, (await s.GetAsync(bucket, "z/data.csv"))!);
        Assert.That(await BashOkAsync($"zstd -dc {Q(raw)} | cmp - {Q(Path.Combine(local, "data.csv"))} && echo same"), Is.EqualTo("same\n"));
        Assert.That((await s.HeadAsync(bucket, "z/image.png")).ContentEncoding, Is.Null, ".png is in the skip list");
        Assert.That(await s.GetAsync(bucket, "z/image.png"), Is.EqualTo(png));

        // Downloads decode, unless --raw.
        var cat = await CloudMountAsync(["cat", $"s3://{bucket}/z/data.csv", .. ep], s.Env);
        Assert.That(cat.Stdout, Is.EqualTo(text.ToString()));
        Assert.That((await CloudMountAsync(["cp", "--raw", $"s3://{bucket}/z/data.csv", Path.Combine(local, "raw2.zst"), .. ep], s.Env)).ExitCode, Is.Zero);
        Assert.That(await File.ReadAllBytesAsync(Path.Combine(local, "raw2.zst")), Is.EqualTo(await File.ReadAllBytesAsync(raw)));

        // --reencode: zstd to gzip, then gzip to none; an object already in the target encoding is copied as stored.
        var re = await CloudMountAsync(["cp", "--reencode", "--compress", "gzip", $"s3://{bucket}/z/data.csv", $"s3://{bucket}/g/data.csv", .. ep], s.Env);
        Assert.That(re.ExitCode, Is.Zero, re.ToString());
        Assert.That((await s.HeadAsync(bucket, "g/data.csv")).ContentEncoding, Is.EqualTo("gzip"));
        string gz = Path.Combine(local, "raw.gz");
        await File.WriteAllBytesAsync(gz, (await s.GetAsync(bucket, "g/data.csv"))!);
        Assert.That(await BashOkAsync($"gzip -dc {Q(gz)} | cmp - {Q(Path.Combine(local, "data.csv"))} && echo same"), Is.EqualTo("same\n"));
        re = await CloudMountAsync(["cp", "--reencode", "--compress", "gzip", $"s3://{bucket}/g/data.csv", $"s3://{bucket}/g2/data.csv", .. ep], s.Env);
        Assert.That(re.ExitCode, Is.Zero, re.ToString());
        Assert.That(await s.GetAsync(bucket, "g2/data.csv"), Is.EqualTo(await File.ReadAllBytesAsync(gz)), "same encoding: the stored bytes, not a recompression");
        re = await CloudMountAsync(["cp", "--reencode", $"s3://{bucket}/g/data.csv", $"s3://{bucket}/plain/data.csv", .. ep], s.Env);
        Assert.That(re.ExitCode, Is.Zero, re.ToString());
        Assert.That((await s.HeadAsync(bucket, "plain/data.csv")).ContentEncoding, Is.Null);
        Assert.That(await s.GetAsync(bucket, "plain/data.csv"), Is.EqualTo(csv));
    }

    [Test]
    public async Task Cp_from_stdin_and_to_stdout_and_recursive_copies_on_file_urls()
    {
        string bucket = Paths.NewDir("filebucket");
        var put = await CloudMountAsync(["cp", "-", $"file://{bucket}/in/stdin.txt"], stdin: "from stdin\n");
        Assert.That(put.ExitCode, Is.Zero, put.ToString());
        Assert.That(File.ReadAllText(Path.Combine(bucket, "in", "stdin.txt")), Is.EqualTo("from stdin\n"));
        var get = await CloudMountAsync(["cp", $"file://{bucket}/in/stdin.txt", "-"]);
        Assert.That(get.Stdout, Is.EqualTo("from stdin\n"));
        string tree = Paths.NewDir("tree");
        Directory.CreateDirectory(Path.Combine(tree, "a", "b"));
        File.WriteAllText(Path.Combine(tree, "a", "b", "deep.txt"), "deep");
        File.WriteAllText(Path.Combine(tree, "top.txt"), "top");
        Assert.That((await CloudMountAsync(["cp", "-r", tree, $"file://{bucket}/tree/"])).ExitCode, Is.Zero);
        string back = Paths.NewDir("back");
        Assert.That((await CloudMountAsync(["cp", "-r", $"file://{bucket}/tree/", back])).ExitCode, Is.Zero);
        await BashOkAsync($"diff -r {Q(tree)} {Q(back)}");
    }
}
