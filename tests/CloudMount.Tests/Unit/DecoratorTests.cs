using System.Security.Cryptography;
using CloudMount.Core.Storage;
using CloudMount.Core.Storage.Decorators;
using CloudMount.Core.Storage.Memory;
using CloudMount.Tests.Support;

namespace CloudMount.Tests.Unit;

public sealed class DecoratorTests
{
    private static readonly RetryPolicy Fast = new() { MaxAttempts = 7, BaseDelay = TimeSpan.FromMilliseconds(1), MaxDelay = TimeSpan.FromMilliseconds(5) };

    [Test]
    public async Task Transient_failures_are_retried_until_they_pass()
    {
        var mem = new MemoryObjectStore("retry");
        await mem.WriteAsync("k", ObjectContent.FromBytes(new byte[] { 1, 2, 3 }), ObjectWriteOptions.Default, CancellationToken.None);
        var faults = new FaultyObjectStore(mem);
        int calls = 0;
        faults.Fail = (op, _) => op == "head" && ++calls <= 3 ? new TransientStoreException("503 SlowDown") : null;
        var stats = new RequestStats();
        var store = new RetryingObjectStore(faults, Fast, stats);
        Assert.That((await store.HeadAsync("k", CancellationToken.None))!.Size, Is.EqualTo(3));
        Assert.That(calls, Is.EqualTo(4));
        Assert.That(stats.Retries, Is.EqualTo(3));
    }

    [Test]
    public async Task Permanent_failures_are_not_retried_and_retries_stop_after_seven_attempts()
    {
        var faults = new FaultyObjectStore(new MemoryObjectStore("retry2"));
        int calls = 0;
        faults.Fail = (_, _) => { calls++; return new AccessDeniedException("403"); };
        var store = new RetryingObjectStore(faults, Fast);
        Assert.ThrowsAsync<AccessDeniedException>(() => store.HeadAsync("k", CancellationToken.None));
        Assert.That(calls, Is.EqualTo(1));
        calls = 0;
        faults.Fail = (_, _) => { calls++; return new TransientStoreException("500"); };
        Assert.ThrowsAsync<TransientStoreException>(() => store.HeadAsync("k", CancellationToken.None));
        Assert.That(calls, Is.EqualTo(7));
    }

    [Test]
    public void The_backoff_window_doubles_from_half_a_second_to_a_minute()
    {
        var p = RetryPolicy.Default;
        for (int retry = 0; retry < 12; retry++)
        {
            double high = Math.Min(60, 0.5 * Math.Pow(2, retry));
            for (int i = 0; i < 50; i++)
            {
                Assert.That(p.DelayBefore(retry).TotalSeconds, Is.InRange(0, high));
            }
        }
    }

    [Test]
    public async Task A_body_that_breaks_off_resumes_at_the_right_byte()
    {
        var mem = new MemoryObjectStore("resume");
        var data = new byte[1_000_000];
        new Random(5).NextBytes(data);
        await mem.WriteAsync("k", ObjectContent.FromBytes(data), ObjectWriteOptions.Default, CancellationToken.None);
        var faults = new FaultyObjectStore(mem) { CutBodiesAfter = 300_000 };
        var stats = new RequestStats();
        var store = new RetryingObjectStore(new CountingObjectStore(faults, stats), Fast, stats);
        await using var r = await store.ReadAsync("k", ByteRange.All, null, CancellationToken.None);
        using var ms = new MemoryStream();
        await r.Content.CopyToAsync(ms);
        Assert.That(ms.ToArray(), Is.EqualTo(data));
        Assert.That(stats[RequestKind.Get], Is.EqualTo(4), "1 MB in 300 kB pieces");
    }

    [Test]
    public async Task Whole_object_reads_are_checked_against_an_md5_etag()
    {
        var mem = new MemoryObjectStore("md5");
        await mem.WriteAsync("k", ObjectContent.FromBytes(new byte[5000]), ObjectWriteOptions.Default, CancellationToken.None);
        var store = new ReadVerifyingObjectStore(new CorruptingStore(mem));
        await using var r = await store.ReadAsync("k", ByteRange.All, null, CancellationToken.None);
        var ex = Assert.ThrowsAsync<IOException>(() => r.Content.CopyToAsync(Stream.Null));
        Assert.That(ex!.InnerException, Is.TypeOf<ChecksumMismatchException>());
    }

    [Test]
    public async Task Writes_send_content_md5()
    {
        var recorder = new RecordingStore(new MemoryObjectStore("md5w"));
        var store = new UploadVerifyingObjectStore(recorder);
        var data = new byte[777];
        new Random(8).NextBytes(data);
        await store.WriteAsync("k", ObjectContent.FromBytes(data), ObjectWriteOptions.Default, CancellationToken.None);
        Assert.That(recorder.LastOptions!.ContentMd5, Is.EqualTo(MD5.HashData(data)));
    }

    [Test]
    public void Md5_is_read_only_from_plain_md5_etags()
    {
        Assert.That(UploadVerifyingObjectStore.Md5FromETag("\"0123456789abcdef0123456789abcdef\""), Has.Length.EqualTo(16));
        Assert.That(UploadVerifyingObjectStore.Md5FromETag("\"0123456789abcdef0123456789abcdef-5\""), Is.Null);
        Assert.That(UploadVerifyingObjectStore.Md5FromETag("W/\"abc\""), Is.Null);
        Assert.That(UploadVerifyingObjectStore.Md5FromETag(null), Is.Null);
    }

    private sealed class CorruptingStore(IObjectStore inner) : DelegatingObjectStore(inner)
    {
        public override async Task<ObjectReadResult> ReadAsync(string key, ByteRange range, string? ifMatch, CancellationToken ct)
        {
            var r = await base.ReadAsync(key, range, ifMatch, ct);
            var ms = new MemoryStream();
            await r.Content.CopyToAsync(ms, ct);
            var bytes = ms.ToArray();
            bytes[100] ^= 0xFF;
            return r with { Content = new MemoryStream(bytes) };
        }
    }

    private sealed class RecordingStore(IObjectStore inner) : DelegatingObjectStore(inner)
    {
        public ObjectWriteOptions? LastOptions;

        public override Task<ObjectInfo> WriteAsync(string key, ObjectContent content, ObjectWriteOptions options, CancellationToken ct)
        {
            LastOptions = options;
            return base.WriteAsync(key, content, options, ct);
        }
    }
}

public sealed class ChecksumTests
{
    [Test]
    public void Crc32c_matches_the_rfc_3720_check_value_and_combines_parts()
    {
        Assert.That(CloudMount.Core.Storage.Crc32C.Compute("123456789"u8), Is.EqualTo(0xE3069283u));
        var data = new byte[100_003];
        new Random(4).NextBytes(data);
        uint whole = CloudMount.Core.Storage.Crc32C.Compute(data);
        foreach (int cut in new[] { 0, 1, 7, 50_000, 100_002, 100_003 })
        {
            uint a = CloudMount.Core.Storage.Crc32C.Compute(data.AsSpan(0, cut)), b = CloudMount.Core.Storage.Crc32C.Compute(data.AsSpan(cut));
            Assert.That(CloudMount.Core.Storage.Crc32C.Combine(a, b, data.Length - cut), Is.EqualTo(whole), $"cut at {cut}");
        }
        Assert.That(CloudMount.Core.Storage.Crc32C.FromBase64(CloudMount.Core.Storage.Crc32C.ToBase64(whole)), Is.EqualTo(whole));
    }

    [Test]
    public async Task An_upload_whose_stored_size_or_md5_differs_fails_with_both_values_and_is_retried()
    {
        var mem = new MemoryObjectStore("verify");
        int calls = 0;
        var store = new RetryingObjectStore(new UploadVerifyingObjectStore(new SizeLiar(mem, () => ++calls <= 2)), new RetryPolicy { MaxAttempts = 3, BaseDelay = TimeSpan.FromMilliseconds(1), MaxDelay = TimeSpan.FromMilliseconds(2) });
        var data = new byte[1000];
        var info = await store.WriteAsync("k", ObjectContent.FromBytes(data), ObjectWriteOptions.Default, CancellationToken.None);
        Assert.That((calls, info.Size), Is.EqualTo((3, 1000L)), "two mismatches retried, the third upload checked out");
        calls = -100;
        var e = Assert.ThrowsAsync<ChecksumMismatchException>(() => store.WriteAsync("k2", ObjectContent.FromBytes(data), ObjectWriteOptions.Default, CancellationToken.None));
        Assert.That(e!.Message, Does.Contain("k2").And.Contain("stored 1002 bytes, we sent 1000"));
    }

    /// <summary>Reports two bytes more than were written while <c>lie</c> says so.</summary>
    private sealed class SizeLiar(IObjectStore inner, Func<bool> lie) : DelegatingObjectStore(inner)
    {
        public override async Task<ObjectInfo> WriteAsync(string key, ObjectContent content, ObjectWriteOptions options, CancellationToken ct)
        {
            var info = await base.WriteAsync(key, content, options, ct);
            return lie() ? info with { Size = info.Size + 2 } : info;
        }
    }
}
