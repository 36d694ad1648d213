using CloudMount.Core;
using CloudMount.Core.Reading;
using CloudMount.Core.Storage;
using CloudMount.Core.Storage.Decorators;
using CloudMount.Core.Storage.Memory;

namespace CloudMount.Tests.Unit;

public sealed class PrefetcherTests
{
    private MemoryObjectStore _mem = null!;
    private RequestStats _stats = null!;
    private IObjectStore _store = null!;
    private byte[] _data = null!;
    private string _etag = "";
    private List<ByteRange> _ranges = null!;

    private sealed class RangeRecorder(IObjectStore inner, List<ByteRange> ranges) : DelegatingObjectStore(inner)
    {
        public override Task<ObjectReadResult> ReadAsync(string key, ByteRange range, string? ifMatch, CancellationToken ct)
        {
            lock (ranges) ranges.Add(range);
            return base.ReadAsync(key, range, ifMatch, ct);
        }
    }

    [SetUp]
    public async Task SetUp()
    {
        _mem = new MemoryObjectStore("prefetch");
        _stats = new RequestStats();
        _ranges = [];
        _store = new RangeRecorder(new CountingObjectStore(_mem, _stats), _ranges);
        _data = new byte[40 * 1024 * 1024 + 333];
        new Random(42).NextBytes(_data);
        _etag = (await _mem.WriteAsync("obj", ObjectContent.FromBytes(_data), ObjectWriteOptions.Default, CancellationToken.None)).ETag!;
    }

    private Prefetcher New(ReadAheadOptions? o = null) => new(_store, () => "obj", _etag, _data.Length, o ?? new ReadAheadOptions());

    [Test]
    public async Task Short_runs_of_random_reads_that_continue_each_other_fetch_only_the_blocks_they_read()
    {
        // fio randread's random map takes the next unread block after a collision, so random reads often continue
        // the one before: a run of two 256 KiB reads must not start a read-ahead window (it did: every such pair
        // fetched the next block too).
        await using var p = New();
        var buf = new byte[256 * 1024];
        const int MiB = 1024 * 1024;
        for (int b = 1; b < 30; b += 3)
        {
            for (int half = 1; half <= 2; half++)
            {
                long off = (long)b * MiB + half * 256 * 1024;
                int n = await p.ReadAsync(off, buf, CancellationToken.None);
                Assert.That(n, Is.EqualTo(buf.Length));
                Assert.That(buf.AsSpan().SequenceEqual(_data.AsSpan((int)off, n)), $"bytes at {off}");
                Assert.That(p.WindowBytes, Is.Zero, $"a run of {half * 256} KiB at block {b} is still random");
            }
        }
        Assert.That(_stats[RequestKind.Get], Is.EqualTo(10), "one GET per block read");
        Assert.That(_stats.BytesDownloaded, Is.EqualTo(10L * MiB), "no block beyond the ten read");
    }

    [Test]
    public async Task A_sequential_reader_gets_exact_bytes_with_a_growing_window_of_few_large_requests()
    {
        await using var p = New();
        var buf = new byte[128 * 1024];
        long off = 0;
        using var all = new MemoryStream();
        int n;
        while ((n = await p.ReadAsync(off, buf, CancellationToken.None)) > 0)
        {
            all.Write(buf, 0, n);
            off += n;
        }
        Assert.That(all.ToArray().AsSpan().SequenceEqual(_data), "bytes differ");
        Assert.That(p.WindowBytes, Is.EqualTo(new ReadAheadOptions().MaxWindowBytes), "the window grew to its cap");
        // 40 MiB: a 1 MiB first part, then parts growing to 8 MiB: far fewer requests than kernel reads (321).
        Assert.That(_stats[RequestKind.Get], Is.InRange(6, 20));
        Assert.That(_stats.BytesDownloaded, Is.EqualTo(_data.Length), "no byte fetched twice");
    }

    [Test]
    public async Task Concurrent_out_of_order_reads_inside_the_window_do_not_reset_it()
    {
        await using var p = New();
        var first = new byte[4096];
        await p.ReadAsync(0, first, CancellationToken.None);
        var reads = Enumerable.Range(0, 16).Reverse().Select(async i =>
        {
            var b = new byte[64 * 1024];
            long at = 4096 + i * 64 * 1024;
            int n = await p.ReadAsync(at, b, CancellationToken.None);
            Assert.That(b.AsSpan(0, n).SequenceEqual(_data.AsSpan((int)at, n)));
        });
        await Task.WhenAll(reads);
        Assert.That(_ranges.Select(r => r.Offset), Is.Ordered, "parts only move forward");
        for (int i = 1; i < _ranges.Count; i++)
        {
            Assert.That(_ranges[i].Offset, Is.EqualTo(_ranges[i - 1].Offset + _ranges[i - 1].Length), "contiguous parts, nothing fetched twice");
        }
        Assert.That(p.WindowBytes, Is.GreaterThan(new ReadAheadOptions().InitialWindowBytes), "the window was not reset");
    }

    [Test]
    public async Task A_short_read_of_a_big_object_fetches_little()
    {
        await using var p = New();
        var b = new byte[128 * 1024];
        for (long off = 0; off < 1024 * 1024; off += b.Length)
        {
            await p.ReadAsync(off, b, CancellationToken.None);
        }
        Assert.That(_ranges.Sum(r => r.Length!.Value), Is.LessThanOrEqualTo(4 * 1024 * 1024), "reading 1 MiB fetches at most 4 MiB");
    }

    [Test]
    public async Task Random_reads_reset_the_window_and_fetch_small_blocks()
    {
        await using var p = New(new ReadAheadOptions { InitialWindowBytes = 256 * 1024 });
        var rng = new Random(3);
        var b = new byte[4096];
        for (int i = 0; i < 20; i++)
        {
            long at = rng.NextInt64(0, _data.Length - 4096);
            Assert.That(await p.ReadAsync(at, b, CancellationToken.None), Is.EqualTo(4096));
            Assert.That(b, Is.EqualTo(_data.AsSpan((int)at, 4096).ToArray()));
        }
        Assert.That(p.WindowBytes, Is.LessThanOrEqualTo(512 * 1024));
        // Each random read fetches the aligned 1 MiB block(s) holding it, never a read-ahead window.
        Assert.That(_ranges.All(r => r.Offset % (1 << 20) == 0 && r.Length <= 2 << 20), Is.True, string.Join(", ", _ranges));
        Assert.That(_stats.BytesDownloaded, Is.LessThanOrEqualTo(20L * 2 * 1024 * 1024), "random reads fetch blocks, not windows");
    }

    [Test]
    public async Task Reads_past_the_end_return_zero_and_the_last_read_is_short()
    {
        await using var p = New();
        var b = new byte[1000];
        Assert.That(await p.ReadAsync(_data.Length - 10, b, CancellationToken.None), Is.EqualTo(10));
        Assert.That(await p.ReadAsync(_data.Length, b, CancellationToken.None), Is.Zero);
        Assert.That(await p.ReadAsync(_data.Length + 5000, b, CancellationToken.None), Is.Zero);
    }

    [Test]
    public async Task A_changed_object_fails_the_read_instead_of_mixing_versions()
    {
        await using var p = New();
        var b = new byte[1024];
        await p.ReadAsync(0, b, CancellationToken.None);
        await _mem.WriteAsync("obj", ObjectContent.FromBytes(new byte[_data.Length]), ObjectWriteOptions.Default, CancellationToken.None);
        Assert.ThrowsAsync<PreconditionFailedException>(async () => await p.ReadAsync(30 * 1024 * 1024, b, CancellationToken.None));
    }
}
