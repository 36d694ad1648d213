using CloudMount.Core;
using CloudMount.Core.Storage;
using CloudMount.Core.Storage.S3;
using CloudMount.Tests.Support;

namespace CloudMount.Tests.Unit;

public sealed class ParsingTests
{
    [Test]
    public void Keys_sort_by_utf8_bytes()
    {
        var keys = new List<string> { "b", "a/", "a", "a0", "\uFFFD", "\U0001F600", "A", "a!" };
        keys.Sort(KeyComparer.Instance);
        var byBytes = keys.OrderBy(k => System.Text.Encoding.UTF8.GetBytes(k), Comparer<byte[]>.Create((x, y) => x.AsSpan().SequenceCompareTo(y))).ToList();
        Assert.That(keys, Is.EqualTo(byBytes));
    }

    [TestCase("s3://bucket", "s3", "bucket", "")]
    [TestCase("s3://my-bucket/some/prefix/", "s3", "my-bucket", "some/prefix/")]
    [TestCase("S3://bucket/k", "s3", "bucket", "k")]
    [TestCase("mem://scratch/x", "mem", "scratch", "x")]
    [TestCase("file:///tmp/data", "file", "/tmp/data", "")]
    [TestCase("file://relative/dir", "file", "relative/dir", "")]
    public void Store_urls_parse(string url, string scheme, string bucket, string path)
    {
        var u = StoreUrl.Parse(url);
        Assert.That((u.Scheme, u.Bucket, u.Path), Is.EqualTo((scheme, bucket, path)));
    }

    [TestCase("foo://x", "unknown scheme")]
    [TestCase("s3:/bucket", "not a store URL")]
    [TestCase("bucket/key", "not a store URL")]
    [TestCase("s3://", "names no bucket")]
    [TestCase("s3://a", "not a valid bucket name")]
    [TestCase("s3://bad bucket/x", "not a valid bucket name")]
    [TestCase("file://", "names no directory")]
    public void Bad_store_urls_get_a_clear_message(string url, string message)
    {
        var ex = Assert.Throws<StoreUrlException>(() => StoreUrl.Parse(url));
        Assert.That(ex!.Message, Does.Contain(message));
    }

    [Test]
    public void Content_range_headers_parse()
    {
        Assert.That(ContentRange.TryParse("bytes 0-99/1000", out long s, out long e, out long size), Is.True);
        Assert.That((s, e, size), Is.EqualTo((0L, 99L, 1000L)));
        Assert.That(ContentRange.TryParse("bytes */1000", out _, out _, out _), Is.False);
        Assert.That(ContentRange.TryParse(null, out _, out _, out _), Is.False);
    }

    [TestCase("1048576", 1048576L)]
    [TestCase("64K", 65536L)]
    [TestCase("8MiB", 8388608L)]
    [TestCase("1G", 1073741824L)]
    [TestCase("1.5M", 1572864L)]
    public void Sizes_parse(string text, long bytes) => Assert.That(Bytes.Parse(text), Is.EqualTo(bytes));

    [Test]
    public void Byte_ranges_clamp_and_format()
    {
        Assert.That(new ByteRange(10, 5).ToString(), Is.EqualTo("bytes=10-14"));
        Assert.That(new ByteRange(10, null).ToString(), Is.EqualTo("bytes=10-"));
        Assert.That(new ByteRange(90, 20).ClampTo(100), Is.EqualTo(new ByteRange(90, 10)));
        Assert.That(new ByteRange(200, 20).ClampTo(100), Is.EqualTo(new ByteRange(100, 0)));
    }

    [Test]
    public async Task Cloudfiles_secret_files_are_found_bucket_specific_first()
    {
        string home = Paths.NewDir("home");
        string secrets = Path.Combine(home, ".cloudvolume", "secrets");
        Directory.CreateDirectory(secrets);
        File.WriteAllText(Path.Combine(secrets, "aws-secret.json"), """{"AWS_ACCESS_KEY_ID":"generic","AWS_SECRET_ACCESS_KEY":"g"}""");
        File.WriteAllText(Path.Combine(secrets, "special-aws-secret.json"), """{"AWS_ACCESS_KEY_ID":"specific","AWS_SECRET_ACCESS_KEY":"s","AWS_DEFAULT_REGION":"eu-west-1"}""");
        var special = await S3CredentialResolver.ResolveAsync("special", false, home, CancellationToken.None);
        Assert.That(special.Credentials.GetCredentials().AccessKey, Is.EqualTo("specific"));
        Assert.That(special.Region, Is.EqualTo("eu-west-1"));
        Assert.That(special.Source, Does.EndWith("special-aws-secret.json"));
        var other = await S3CredentialResolver.ResolveAsync("other", false, home, CancellationToken.None);
        Assert.That(other.Credentials.GetCredentials().AccessKey, Is.EqualTo("generic"));
        File.WriteAllText(Path.Combine(secrets, "broken-aws-secret.json"), "{ not json");
        Assert.ThrowsAsync<AccessDeniedException>(() => S3CredentialResolver.ResolveAsync("broken", false, home, CancellationToken.None));
    }

    [Test]
    public void Local_paths_split_into_an_existing_root_and_a_key()
    {
        string dir = Paths.NewDir("split");
        Directory.CreateDirectory(Path.Combine(dir, "sub"));
        Assert.That(StoreFactory.SplitLocalPath(dir), Is.EqualTo((dir, "")));
        Assert.That(StoreFactory.SplitLocalPath(Path.Combine(dir, "sub", "new.txt")), Is.EqualTo((Path.Combine(dir, "sub"), "new.txt")));
        Assert.That(StoreFactory.SplitLocalPath(Path.Combine(dir, "a", "b") + "/"), Is.EqualTo((dir, "a/b/")));
    }
}
