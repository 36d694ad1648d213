using System.Security.Cryptography;
using System.Text;
using CloudMount.Tests.Support;
using static CloudMount.Tests.Support.ProcessRunner;

namespace CloudMount.Tests.Fuse;

/// <summary>
/// Objects stored with Content-Encoding gzip, br and zstd, through real mounts on Swift's S3 API and mem://:
/// encoded by the Debian tools and uploaded by another client, they read back as their original bytes with
/// ordinary tools; <c>--compress</c> stores new files encoded; corrupt ones fail with EIO.
/// </summary>
[NonParallelizable]
public sealed class CodecTests
{
    private static string _dir = "";
    private static string _plainPath = "";
    private static byte[] _plain = [];

    /// <summary>About 6 MB of CSV-like text, and its encodings made with the Debian tools.</summary>
    [OneTimeSetUp]
    public static async Task MakeSamples()
    {
        _dir = Paths.NewDir("codec-samples");
        var sb = new StringBuilder();
        var rnd = new Random(42);
        for (int i = 0; sb.Length < 6_000_000; i++)
        {
            sb.Append(i).Append(',').Append(rnd.NextDouble().ToString("F6", System.Globalization.CultureInfo.InvariantCulture)).Append(',')
              .Append(new string((char)('a' + i % 26), i % 19)).Append('\n');
        }
        _plain = Encoding.ASCII.GetBytes(sb.ToString());
        _plainPath = Path.Combine(_dir, "plain.csv");
        await File.WriteAllBytesAsync(_plainPath, _plain);
        string d = Q(_dir);
        await BashOkAsync($"cd {d} && gzip -c plain.csv > plain.gz && brotli -c plain.csv > plain.br && zstd -q -c plain.csv > plain.zst"
            // zstd reading a pipe cannot write the content size; two gzip members make ISIZE describe only the last one.
            + " && cat plain.csv | zstd -q -c > nosize.zst"
            + " && head -c 1000000 plain.csv | gzip -c > multi.gz && tail -c +1000001 plain.csv | gzip -c >> multi.gz");
    }

    private static byte[] Sample(string name) => File.ReadAllBytes(Path.Combine(_dir, name));

    private static string Md5(byte[] b) => Convert.ToHexStringLower(MD5.HashData(b));

    /// <summary>Python reads at random offsets (seek + read) and compares with the original.</summary>
    private static string RandomReadsScript(string path) => $$"""
        import random
        want = open({{PyQ(_plainPath)}}, 'rb').read()
        rnd = random.Random(7)
        with open({{PyQ(path)}}, 'rb') as f:
            for i in range(40):
                off = rnd.randrange(len(want)); n = rnd.randrange(1, 300000)
                f.seek(off)
                got = f.read(n)
                assert got == want[off:off + n], (off, n, len(got))
        print('ok')
        """;

    private static string PyQ(string s) => "'" + s.Replace("\\", "\\\\").Replace("'", "\\'") + "'";

    [Test]
    public async Task Objects_another_client_encoded_read_back_exact_with_ordinary_tools()
    {
        var s = await TestServers.Swift;
        string bucket = await s.NewBucketAsync("codecs");
        var objects = new (string Key, string Sample, string? Encoding)[]
        {
            ("plain.csv", "plain.csv", null),
            ("gzip.csv", "plain.gz", "gzip"),
            ("brotli.csv", "plain.br", "br"),
            ("zstd.csv", "plain.zst", "zstd"),
            ("zstd-nosize.csv", "nosize.zst", "zstd"),
            ("multi.csv", "multi.gz", "gzip"),
        };
        foreach (var (key, sample, encoding) in objects)
        {
            await s.PutAsync(bucket, key, Sample(sample), encoding);
        }
        string mnt = Paths.NewDir("codecmnt");
        await using var mount = await MountProcess.StartAsync($"s3://{bucket}", mnt,
            ["--endpoint", s.Endpoint.ToString(), "--cache-dir", Paths.NewDir("codeccache")], s.Env);
        string m = Q(mnt);
        string want = Md5(_plain);
        foreach (var (key, _, _) in objects)
        {
            // Random access first, on a cold object: served from the decoded copy as the decode reaches it.
            Assert.That((await BashOkAsync($"python3 -c {Q(RandomReadsScript(Path.Combine(mnt, key)))}")).Trim(), Is.EqualTo("ok"), key);
            Assert.That((await BashOkAsync($"cat {m}/{key} | md5sum")).Split(' ')[0], Is.EqualTo(want), $"cat {key}");
            await BashOkAsync($"cmp {m}/{key} {Q(_plainPath)}");
            Assert.That(await BashOkAsync($"dd if={m}/{key} bs=4096 skip=777 count=33 status=none | md5sum"),
                Is.EqualTo(await BashOkAsync($"dd if={Q(_plainPath)} bs=4096 skip=777 count=33 status=none | md5sum")), $"dd skip= {key}");
            Assert.That((await BashOkAsync($"grep -c ',0.5' {m}/{key}")).Trim(), Is.EqualTo((await BashOkAsync($"grep -c ',0.5' {Q(_plainPath)}")).Trim()), $"grep {key}");
            // Once read, stat shows the decoded size, whatever the format could tell up front.
            Assert.That((await BashOkAsync($"stat -c %s {m}/{key}")).Trim(), Is.EqualTo(_plain.Length.ToString()), $"stat {key} after reading");
        }
        Assert.That((await BashOkAsync($"tar -C {m} -cf - gzip.csv zstd.csv | tar -xOf - gzip.csv | md5sum")).Split(' ')[0], Is.EqualTo(want), "tar");
        string log = await mount.StopAsync();
        Assert.That(log, Does.Not.Contain("cannot decode"));
    }

    [Test]
    public async Task With_exact_attrs_stat_shows_the_decoded_size_before_any_read_where_the_format_tells_it()
    {
        var s = await TestServers.Swift;
        string bucket = await s.NewBucketAsync("codecstat");
        await s.PutAsync(bucket, "gzip.csv", Sample("plain.gz"), "gzip");
        await s.PutAsync(bucket, "zstd.csv", Sample("plain.zst"), "zstd");
        await s.PutAsync(bucket, "brotli.csv", Sample("plain.br"), "br");
        await s.PutAsync(bucket, "zstd-nosize.csv", Sample("nosize.zst"), "zstd");
        string mnt = Paths.NewDir("codecstatmnt");
        await using var mount = await MountProcess.StartAsync($"s3://{bucket}", mnt,
            ["--endpoint", s.Endpoint.ToString(), "--cache-dir", Paths.NewDir("codecstatcache"), "--exact-attrs"], s.Env);
        string m = Q(mnt);
        string Size(string key) => BashOkAsync($"stat -c %s {m}/{key}").Result.Trim();
        Assert.That(Size("gzip.csv"), Is.EqualTo(_plain.Length.ToString()), "gzip: ISIZE from a 4-byte range read");
        Assert.That(Size("zstd.csv"), Is.EqualTo(_plain.Length.ToString()), "zstd: the frame header's content size");
        Assert.That(Size("brotli.csv"), Is.EqualTo(Sample("plain.br").Length.ToString()), "brotli has no size field: the stored size until read");
        Assert.That(Size("zstd-nosize.csv"), Is.EqualTo(Sample("nosize.zst").Length.ToString()), "no content size in the frame: the stored size until read");
        // A file whose size was unknown is served as a stream: cat and python still get every byte.
        Assert.That((await BashOkAsync($"cat {m}/brotli.csv | md5sum")).Split(' ')[0], Is.EqualTo(Md5(_plain)));
        Assert.That((await BashOkAsync($"python3 -c \"import sys; print(len(open(sys.argv[1],'rb').read()))\" {m}/zstd-nosize.csv")).Trim(), Is.EqualTo(_plain.Length.ToString()));
        Assert.That(Size("brotli.csv"), Is.EqualTo(_plain.Length.ToString()), "known once decoded");
    }

    [Test]
    public async Task Corrupt_or_truncated_objects_fail_with_EIO_and_a_log_line_naming_the_key()
    {
        var s = await TestServers.Swift;
        string bucket = await s.NewBucketAsync("codecbad");
        var gz = Sample("plain.gz");
        var flipped = (byte[])gz.Clone();
        for (int i = gz.Length / 2; i < gz.Length / 2 + 64; i++) flipped[i] ^= 0x5a;
        var zst = Sample("plain.zst");
        var br = Sample("plain.br");
        await s.PutAsync(bucket, "flipped.csv", flipped, "gzip");
        await s.PutAsync(bucket, "truncated-zstd.csv", zst[..(zst.Length - 5000)], "zstd");
        await s.PutAsync(bucket, "truncated-brotli.csv", br[..(br.Length * 2 / 3)], "br");
        await s.PutAsync(bucket, "truncated-gzip.csv", gz[..(gz.Length - 3)], "gzip");
        await s.PutAsync(bucket, "not-gzip.csv", _plain[..100_000], "gzip");
        string mnt = Paths.NewDir("codecbadmnt");
        await using var mount = await MountProcess.StartAsync($"s3://{bucket}", mnt,
            ["--endpoint", s.Endpoint.ToString(), "--cache-dir", Paths.NewDir("codecbadcache")], s.Env);
        foreach (var key in new[] { "flipped.csv", "truncated-zstd.csv", "truncated-brotli.csv", "truncated-gzip.csv", "not-gzip.csv" })
        {
            var r = await BashAsync($"cat {Q(mnt)}/{key} > /dev/null");
            Assert.That(r.ExitCode, Is.Not.Zero, $"{key} must not read as if whole");
            Assert.That(r.Stderr, Does.Contain("Input/output error"), key);
            var py = await BashAsync($"python3 -c \"open('{mnt}/{key}','rb').read()\"");
            Assert.That(py.Stderr, Does.Contain("OSError: [Errno 5]"), $"python on {key}");
            Assert.That(mount.Stderr, Does.Contain($"object {key}"), $"the log names {key}");
        }
    }

    [TestCase("gzip", "gzip")]
    [TestCase("br", "br")]
    [TestCase("zstd", "zstd")]
    public async Task Compress_stores_new_files_encoded_with_exact_sizes_and_skips_types_that_do_not_shrink(string option, string header)
    {
        var s = await TestServers.Swift;
        string bucket = await s.NewBucketAsync("compress");
        string mnt = Paths.NewDir("compressmnt");
        string[] args = ["--endpoint", s.Endpoint.ToString(), "--cache-dir", Paths.NewDir("compresscache"), "--compress", option];
        var photo = new byte[300_000];
        new Random(3).NextBytes(photo);
        string photoPath = Path.Combine(Paths.NewDir("photo"), "photo.jpg");
        await File.WriteAllBytesAsync(photoPath, photo);
        await using (var mount = await MountProcess.StartAsync($"s3://{bucket}", mnt, args, s.Env))
        {
            await BashOkAsync($"cp {Q(_plainPath)} {Q(mnt)}/data.csv && cp {Q(photoPath)} {Q(mnt)}/photo.jpg && printf 'hello\\n' > {Q(mnt)}/small.txt");
            Assert.That((await BashOkAsync($"stat -c %s {Q(mnt)}/data.csv")).Trim(), Is.EqualTo(_plain.Length.ToString()));
            await mount.StopAsync();
        }
        // Outside the mount: a plain GET sees the encoded bytes, the Content-Encoding and the decoded length.
        var (encoding, meta, stored) = await s.HeadAsync(bucket, "data.csv");
        Assert.That(encoding, Is.EqualTo(header));
        Assert.That(meta["decoded-content-length"], Is.EqualTo(_plain.Length.ToString()));
        Assert.That(stored, Is.LessThan(_plain.Length / 2), "stored compressed");
        string rawPath = Path.Combine(Paths.NewDir("raw"), "data.raw");
        await File.WriteAllBytesAsync(rawPath, (await s.GetAsync(bucket, "data.csv"))!);
        string tool = header switch { "gzip" => "gzip -dc", "br" => "brotli -dc", _ => "zstd -qdc" };
        Assert.That((await BashOkAsync($"{tool} {Q(rawPath)} | md5sum")).Split(' ')[0], Is.EqualTo(Md5(_plain)), "the Debian tool decodes what was stored");
        Assert.That((await s.HeadAsync(bucket, "photo.jpg")).ContentEncoding, Is.Null, ".jpg does not shrink: stored as is");
        Assert.That(await s.GetAsync(bucket, "photo.jpg"), Is.EqualTo(photo));
        Assert.That((await s.HeadAsync(bucket, "small.txt")).ContentEncoding, Is.EqualTo(header));

        // A fresh mount with another cache reads them back exact; with --exact-attrs ls -l shows exact sizes at once.
        await using (var again = await MountProcess.StartAsync($"s3://{bucket}", mnt,
            ["--endpoint", s.Endpoint.ToString(), "--cache-dir", Paths.NewDir("compresscache2"), "--exact-attrs"], s.Env))
        {
            Assert.That(await BashOkAsync($"stat -c '%n %s' {Q(mnt)}/data.csv {Q(mnt)}/small.txt {Q(mnt)}/photo.jpg"),
                Is.EqualTo($"{mnt}/data.csv {_plain.Length}\n{mnt}/small.txt 6\n{mnt}/photo.jpg 300000\n"));
            await BashOkAsync($"cmp {Q(mnt)}/data.csv {Q(_plainPath)} && cmp {Q(mnt)}/photo.jpg {Q(photoPath)}");
            Assert.That(await BashOkAsync($"cat {Q(mnt)}/small.txt"), Is.EqualTo("hello\n"));
            Assert.That((await BashOkAsync($"python3 -c {Q(RandomReadsScript(Path.Combine(mnt, "data.csv")))}")).Trim(), Is.EqualTo("ok"));
            // Appending to an encoded file keeps its encoding.
            await BashOkAsync($"printf 'world\\n' >> {Q(mnt)}/small.txt");
        }
        Assert.That((await s.HeadAsync(bucket, "small.txt")).ContentEncoding, Is.EqualTo(header));
        await using (var third = await MountProcess.StartAsync($"s3://{bucket}", mnt,
            ["--endpoint", s.Endpoint.ToString(), "--cache-dir", Paths.NewDir("compresscache3")], s.Env))
        {
            Assert.That(await BashOkAsync($"cat {Q(mnt)}/small.txt"), Is.EqualTo("hello\nworld\n"));
        }
    }

    [Test]
    public async Task Raw_mounts_show_stored_bytes_and_sizes()
    {
        var s = await TestServers.Swift;
        string bucket = await s.NewBucketAsync("codecraw");
        await s.PutAsync(bucket, "gzip.csv", Sample("plain.gz"), "gzip");
        string mnt = Paths.NewDir("codecrawmnt");
        await using var mount = await MountProcess.StartAsync($"s3://{bucket}", mnt,
            ["--endpoint", s.Endpoint.ToString(), "--cache-dir", Paths.NewDir("codecrawcache"), "--raw", "--exact-attrs"], s.Env);
        Assert.That((await BashOkAsync($"stat -c %s {Q(mnt)}/gzip.csv")).Trim(), Is.EqualTo(Sample("plain.gz").Length.ToString()));
        await BashOkAsync($"cmp {Q(mnt)}/gzip.csv {Q(Path.Combine(_dir, "plain.gz"))}");
        Assert.That(await BashOkAsync($"getfattr --only-values -n user.cloudmount.content-encoding {Q(mnt)}/gzip.csv"), Is.EqualTo("gzip"));
    }

    [Test]
    public async Task A_memory_store_with_compress_reads_back_exact_and_shows_the_encoding_as_an_attribute()
    {
        string mnt = Paths.NewDir("codecmem");
        await using var mount = await MountProcess.StartAsync("mem://codec", mnt, ["--compress", "br", "--cache-dir", Paths.NewDir("codecmemcache")]);
        string m = Q(mnt);
        await BashOkAsync($"mkdir {m}/d && cp {Q(_plainPath)} {m}/d/data.csv");
        Assert.That((await BashOkAsync($"stat -c %s {m}/d/data.csv")).Trim(), Is.EqualTo(_plain.Length.ToString()));
        await BashOkAsync($"cmp {m}/d/data.csv {Q(_plainPath)}");
        Assert.That((await BashOkAsync($"python3 -c {Q(RandomReadsScript(Path.Combine(mnt, "d/data.csv")))}")).Trim(), Is.EqualTo("ok"));
        Assert.That(await BashOkAsync($"getfattr --only-values -n user.cloudmount.content-encoding {m}/d/data.csv"), Is.EqualTo("br"));
        Assert.That(await BashOkAsync($"getfattr --only-values -n user.decoded-content-length {m}/d/data.csv"), Is.EqualTo(_plain.Length.ToString()));
        // Rewriting part of it decodes, patches and stores it encoded again.
        await BashOkAsync($"printf 'XYZ' | dd of={m}/d/data.csv bs=1 seek=1000 conv=notrunc status=none");
        var patched = (byte[])_plain.Clone();
        "XYZ"u8.CopyTo(patched.AsSpan(1000));
        Assert.That((await BashOkAsync($"md5sum < {m}/d/data.csv")).Split(' ')[0], Is.EqualTo(Md5(patched)));
        Assert.That(await BashOkAsync($"getfattr --only-values -n user.cloudmount.content-encoding {m}/d/data.csv"), Is.EqualTo("br"));
    }
}
