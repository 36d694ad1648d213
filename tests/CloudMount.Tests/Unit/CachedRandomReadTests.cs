using System.Net;
using CloudMount.Core;
using CloudMount.Core.Caching;
using CloudMount.Core.Reading;
using CloudMount.Core.Storage;
using CloudMount.Core.Storage.Decorators;
using CloudMount.Core.Storage.Memory;
using CloudMount.Tests.Support;

namespace CloudMount.Tests.Unit;

/// <summary>
/// Random reads of blocks the caches hold copy exactly their bytes (no part, no request); reads of blocks no tier
/// holds fall back to fetching them once; a run of reads continuing a cached random read turns sequential once it passes one block. Small request
/// bodies go without Expect: 100-continue.
/// </summary>
public sealed class CachedRandomReadTests
{
    private const int MiB = 1 << 20;
    private MemoryObjectStore _mem = null!;
    private RequestStats _stats = null!;
    private IObjectStore _store = null!;
    private byte[] _data = null!;
    private string _etag = "";

    [SetUp]
    public async Task SetUp()
    {
        _mem = new MemoryObjectStore("cachedrandom");
        _stats = new RequestStats();
        _store = new CountingObjectStore(_mem, _stats);
        _data = new byte[12 * MiB + 4321];
        new Random(21).NextBytes(_data);
        _etag = (await _mem.WriteAsync("obj", ObjectContent.FromBytes(_data), ObjectWriteOptions.Default, CancellationToken.None)).ETag!;
    }

    private ObjectVersion Version => new(_store.Name, "obj", _etag, _data.Length);

    private Prefetcher New(ReadCaches caches, BufferPool? pool = null) =>
        new(_store, () => "obj", _etag, _data.Length, new ReadAheadOptions(), caches: caches, pool: pool);

    private async Task Check(Prefetcher p, long offset, int count)
    {
        var b = new byte[count];
        int n = await p.ReadAsync(offset, b, CancellationToken.None);
        int want = (int)Math.Min(count, _data.Length - offset);
        Assert.That(n, Is.EqualTo(want), $"length at {offset}");
        Assert.That(b.AsSpan(0, n).SequenceEqual(_data.AsSpan((int)offset, n)), $"bytes at {offset} differ");
    }

    /// <summary>Reads the whole object once and waits until the disk tier holds every block.</summary>
    private async Task FillAsync(ReadCaches caches, DiskCache disk)
    {
        await using (var p = New(caches))
        {
            for (long off = 0; off < _data.Length; off += MiB) await Check(p, off, MiB);
        }
        for (int i = 0; i < 200 && Enumerable.Range(0, (int)Version.BlockCount).Any(b => !disk.Contains(Version, b)); i++) await Task.Delay(25);
        Assert.That(Enumerable.Range(0, (int)Version.BlockCount).All(b => disk.Contains(Version, b)), "the disk tier holds the object");
    }

    [Test]
    public async Task Random_reads_of_cached_blocks_send_no_request_and_hold_no_part()
    {
        using var disk = DiskCache.Open(Paths.NewDir("cachedrandom"), 1L << 30)!;
        await using var caches = new ReadCaches(null, disk);
        await FillAsync(caches, disk);
        long gets = _stats[RequestKind.Get];
        var pool = new BufferPool(64L * MiB, 0, trackOwnership: true);
        await using var p = New(caches, pool);
        var rng = new Random(5);
        // Unaligned, some across a block boundary, some at the object's end; each before the last, so that none
        // continues the one before it (which would start a sequential stream, rightly).
        var offsets = Enumerable.Range(0, 200)
            .Select(i => i % 7 == 0 ? (long)rng.Next(1, 12) * MiB - 1000 : rng.NextInt64(1, _data.Length - 1))
            .Distinct().OrderDescending().ToList();
        foreach (long off in offsets)
        {
            await Check(p, off, 256 * 1024);
            Assert.That(p.WindowBytes, Is.Zero, "a random read has no window");
        }
        Assert.That(_stats[RequestKind.Get], Is.EqualTo(gets), "every random read was local");
        Assert.That(p.RequestCount, Is.Zero, "no part was fetched for them");
        Assert.That(pool.OutstandingBytes, Is.Zero, "each read's buffer went back to the pool");
    }

    [Test]
    public async Task A_random_read_of_blocks_no_tier_holds_fetches_them_once_and_the_next_reader_finds_them()
    {
        using var disk = DiskCache.Open(Paths.NewDir("cachedrandom-miss"), 1L << 30)!;
        await using var caches = new ReadCaches(new MemoryBlockCache(2 * MiB), disk);
        await using var p = New(caches);
        await Check(p, 5 * MiB + 500_000, 256 * 1024);
        Assert.That(_stats[RequestKind.Get], Is.EqualTo(1), "one range request for the block");
        // Each before the last: random reads again, of the same block.
        await Check(p, 5 * MiB + 100, 256 * 1024);
        await Check(p, 5 * MiB + 10, 1000);
        Assert.That(_stats[RequestKind.Get], Is.EqualTo(1), "the same block again, from the part or a tier");
        Assert.That(_stats.BytesDownloaded, Is.LessThanOrEqualTo(MiB), "only that block");
    }

    [Test]
    public async Task A_run_of_reads_continuing_a_random_read_served_by_the_caches_turns_sequential_after_one_block()
    {
        using var disk = DiskCache.Open(Paths.NewDir("cachedrandom-seq"), 1L << 30)!;
        await using var caches = new ReadCaches(null, disk);
        await FillAsync(caches, disk);
        await using var p = New(caches);
        // The first 1 MiB of a run (one block) stays random: the kernel sends one large direct read as max_read
        // pieces that continue each other, and those must not start read-ahead (measured: fio randread 256 KiB
        // read 1,318 MiB/s warm with read-ahead per read, 2,813 without).
        long start = 3 * MiB + 4096;
        for (int i = 0; i < 8; i++)
        {
            await Check(p, start + i * 128 * 1024, 128 * 1024);
            Assert.That(p.WindowBytes, Is.Zero, $"read {i + 1} of a run of {(i + 1) * 128} KiB: still random");
        }
        await Check(p, start + MiB, 128 * 1024);
        Assert.That(p.WindowBytes, Is.EqualTo(new ReadAheadOptions().InitialWindowBytes), "the run passed one block: a sequential stream");
        for (long off = start + MiB + 128 * 1024; off < 9 * MiB; off += 128 * 1024) await Check(p, off, 128 * 1024);
        Assert.That(p.WindowBytes, Is.GreaterThan(new ReadAheadOptions().InitialWindowBytes), "and its window grows");
    }

    [Test]
    public void The_tiers_copy_a_byte_range_across_blocks_and_refuse_one_a_tier_lacks()
    {
        using var disk = DiskCache.Open(Paths.NewDir("cachedrandom-range"), 1L << 30)!;
        using var memory = new MemoryBlockCache(4 * MiB);
        var caches = new ReadCaches(memory, null);
        var v = Version;
        memory.Write(v, 2, _data.AsSpan(2 * MiB, 2 * MiB));                // blocks 2 and 3 in memory
        var onDisk = BufferPool.Shared.Rent(MiB);
        try
        {
            _data.AsSpan(4 * MiB, MiB).CopyTo(onDisk.AsSpan());
            disk.Write(v, 4, onDisk.Slice(0, MiB));                        // block 4 on disk
        }
        finally
        {
            BufferPool.Shared.Return(onDisk);
        }
        var both = new ReadCaches(memory, disk);
        var b = new byte[2 * MiB];
        Assert.That(both.TryReadBytes(v, 3 * MiB - 5, b.AsSpan(0, MiB + 10)), Is.True, "memory block 2, 3 and disk block 4");
        Assert.That(b.AsSpan(0, MiB + 10).SequenceEqual(_data.AsSpan(3 * MiB - 5, MiB + 10)));
        Assert.That(disk.TryReadBytes(v, 4 * MiB + 77, b.AsSpan(0, 1000)), Is.True);
        Assert.That(b.AsSpan(0, 1000).SequenceEqual(_data.AsSpan(4 * MiB + 77, 1000)));
        Assert.That(caches.TryReadBytes(v, 4 * MiB - 10, b.AsSpan(0, 20)), Is.False, "block 4 is in no tier of these caches");
        Assert.That(both.TryReadBytes(v, 5 * MiB - 10, b.AsSpan(0, 20)), Is.False, "block 5 is in no tier");
        Assert.That(disk.TryReadBytes(v, _data.Length - 10, b.AsSpan(0, 20)), Is.False, "past the object's end");
    }

    [Test]
    public async Task A_random_read_from_the_disk_tier_lends_the_file_range_which_stays_readable_after_a_prune()
    {
        using var disk = DiskCache.Open(Paths.NewDir("cachedrandom-lease"), 1L << 30)!;
        await using var caches = new ReadCaches(null, disk);
        await FillAsync(caches, disk);
        long gets = _stats[RequestKind.Get];
        await using var p = New(caches);
        long offset = 7L * MiB - 3000;
        using (var lease = await p.LeaseAsync(offset, 256 * 1024, CancellationToken.None))
        {
            Assert.That(lease.File, Is.Not.Null, "the disk tier's file range, for the reply to splice");
            Assert.That((lease.File!.Offset, lease.File.Length, lease.Length), Is.EqualTo((offset, 256 * 1024, 256 * 1024)));
            Assert.That(disk.Prune(null, all: true), Is.GreaterThanOrEqualTo(0));
            var b = new byte[256 * 1024];
            Assert.That(lease.CopyTo(b), Is.EqualTo(b.Length));
            Assert.That(b.AsSpan().SequenceEqual(_data.AsSpan((int)offset, b.Length)), "the lent descriptor still reads the bytes");
        }
        Assert.That(_stats[RequestKind.Get], Is.EqualTo(gets), "no request for the lent read");
        using (var tail = await p.LeaseAsync(_data.Length - 100, 4096, CancellationToken.None))
        {
            var b = new byte[100];
            Assert.That(tail.Length, Is.EqualTo(100), "a lease stops at the object's end");
            Assert.That(tail.CopyTo(b), Is.EqualTo(100));
            Assert.That(b.AsSpan().SequenceEqual(_data.AsSpan(_data.Length - 100)));
        }
    }

    private sealed class Capture : HttpMessageHandler
    {
        public bool? ExpectContinue;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            ExpectContinue = request.Headers.ExpectContinue;
            return Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK));
        }
    }

    [TestCase(30_000, false)]
    [TestCase(1 << 20, false)]
    [TestCase((1 << 20) + 1, true)]
    public async Task Small_bodies_go_without_expect_continue(int length, bool expected)
    {
        var capture = new Capture();
        using var client = new HttpClient(new ExpectContinueHandler(capture));
        using var request = new HttpRequestMessage(HttpMethod.Put, "http://127.0.0.1:9/x") { Content = new ByteArrayContent(new byte[length]) };
        request.Headers.ExpectContinue = true;
        using var _ = await client.SendAsync(request);
        Assert.That(capture.ExpectContinue ?? false, Is.EqualTo(expected));
    }
}
