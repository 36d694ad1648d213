using System.Text.Json.Nodes;
using CloudMount.Core;
using CloudMount.Core.Caching;
using CloudMount.Core.Reading;
using CloudMount.Core.Storage;
using CloudMount.Core.Storage.Decorators;
using CloudMount.Core.Storage.Memory;
using CloudMount.Tests.Support;

namespace CloudMount.Tests.Unit;

/// <summary>The memory and disk data caches, on their own and under the prefetcher.</summary>
public sealed class CacheTests
{
    private MemoryObjectStore _mem = null!;
    private RequestStats _stats = null!;
    private IObjectStore _store = null!;
    private byte[] _data = null!;
    private string _etag = "";
    private string _dir = "";

    [SetUp]
    public async Task SetUp()
    {
        _mem = new MemoryObjectStore("cache");
        _stats = new RequestStats();
        _store = new CountingObjectStore(_mem, _stats);
        _data = new byte[20 * 1024 * 1024 + 12345];
        new Random(9).NextBytes(_data);
        _etag = (await _mem.WriteAsync("obj", ObjectContent.FromBytes(_data), ObjectWriteOptions.Default, CancellationToken.None)).ETag!;
        _dir = Paths.NewDir("diskcache");
    }

    private async Task<byte[]> ReadAll(Prefetcher p, int chunk)
    {
        var all = new byte[_data.Length];
        for (long off = 0; off < _data.Length; off += chunk)
        {
            int n = await p.ReadAsync(off, all.AsMemory((int)off, (int)Math.Min(chunk, _data.Length - off)), CancellationToken.None);
            Assert.That(n, Is.EqualTo(Math.Min(chunk, _data.Length - off)));
        }
        return all;
    }

    [Test]
    public async Task A_read_after_reopening_the_disk_cache_makes_no_request_and_returns_exact_bytes()
    {
        var pool = new BufferPool(64L << 20, 32L << 20, trackOwnership: true);
        using (var disk = DiskCache.Open(_dir, 1L << 30)!)
        {
            await using var caches = new ReadCaches(null, disk);
            await using var p = new Prefetcher(_store, () => "obj", _etag, _data.Length, new ReadAheadOptions(), caches: caches, pool: pool);
            Assert.That((await ReadAll(p, 128 * 1024)).AsSpan().SequenceEqual(_data));
        }
        Assert.That(_stats[RequestKind.Get], Is.GreaterThan(0));
        long gets = _stats[RequestKind.Get];

        using (var disk = DiskCache.Open(_dir, 1L << 30)!)
        {
            Assert.That(disk.UsedBytes, Is.EqualTo(_data.Length), "every block was flushed and claimed");
            await using var caches = new ReadCaches(null, disk);
            await using var p = new Prefetcher(_store, () => "obj", _etag, _data.Length, new ReadAheadOptions(), caches: caches, pool: pool);
            Assert.That((await ReadAll(p, 1 << 20)).AsSpan().SequenceEqual(_data));
        }
        Assert.That(_stats[RequestKind.Get], Is.EqualTo(gets), "the second pass came from the disk cache");
        Assert.That(pool.OutstandingBytes, Is.Zero, "every buffer went back once");
    }

    [Test]
    public async Task Concurrent_random_and_sequential_readers_share_the_cache_without_corruption()
    {
        var pool = new BufferPool(24L << 20, 8L << 20, trackOwnership: true);
        using var disk = DiskCache.Open(_dir, 1L << 30)!;
        using var memory = new MemoryBlockCache(4L << 20);
        await using var caches = new ReadCaches(memory, disk);
        var readers = Enumerable.Range(0, 6).Select(async r =>
        {
            await using var p = new Prefetcher(_store, () => "obj", _etag, _data.Length, new ReadAheadOptions { PartBytes = 2 << 20, MaxWindowBytes = 8 << 20 }, caches: caches, pool: pool);
            var rng = new Random(r);
            var buf = new byte[64 * 1024];
            for (int i = 0; i < 200; i++)
            {
                long at = r % 2 == 0 ? (i * 97_003L) % (_data.Length - buf.Length) : rng.NextInt64(0, _data.Length - buf.Length);
                int n = await p.ReadAsync(at, buf, CancellationToken.None);
                Assert.That(buf.AsSpan(0, n).SequenceEqual(_data.AsSpan((int)at, n)), $"reader {r} read {i} at {at}");
            }
        });
        await Task.WhenAll(readers);
        await caches.DisposeAsync();
        Assert.That(pool.OutstandingBytes, Is.Zero);
    }

    [Test]
    public async Task Blocks_written_but_not_committed_before_a_crash_are_not_claimed()
    {
        var v = new ObjectVersion("mem://cache", "obj", _etag, _data.Length);
        var pool = new BufferPool(64L << 20, 0);
        var seg = pool.Rent(2 << 20);
        _data.AsSpan(0, 2 << 20).CopyTo(seg);
        using (var disk = DiskCache.Open(_dir, 1L << 30)!)
        {
            disk.Write(v, 0, seg);
            disk.Commit(v.Id);
            _data.AsSpan(4 << 20, 2 << 20).CopyTo(seg);
            disk.Write(v, 4, seg); // written, never committed: the process "crashes" here
            Assert.That(disk.Contains(v, 4), Is.True, "this process may read what it wrote");
        }
        using (var disk = DiskCache.Open(_dir, 1L << 30)!)
        {
            Assert.That(disk.Contains(v, 0) && disk.Contains(v, 1), Is.True);
            Assert.That(disk.Contains(v, 4) || disk.Contains(v, 5), Is.False, "uncommitted blocks are not claimed after a restart");
            var back = pool.Rent(1 << 20);
            Assert.That(disk.TryRead(v, 1, back), Is.True);
            Assert.That(back.AsSpan().SequenceEqual(_data.AsSpan(1 << 20, 1 << 20)));
        }
    }

    [Test]
    public void A_damaged_record_is_dropped_not_trusted()
    {
        var v = new ObjectVersion("mem://cache", "obj", _etag, _data.Length);
        var pool = new BufferPool(64L << 20, 0);
        var seg = pool.Rent(1 << 20);
        _data.AsSpan(0, 1 << 20).CopyTo(seg);
        using (var disk = DiskCache.Open(_dir, 1L << 30)!)
        {
            disk.Write(v, 0, seg);
            disk.Commit(v.Id);
        }
        string meta = Directory.GetFiles(_dir, "*.meta", SearchOption.AllDirectories).Single();
        File.WriteAllText(meta, "{ torn");
        using (var disk = DiskCache.Open(_dir, 1L << 30)!)
        {
            Assert.That(disk.Contains(v, 0), Is.False);
            Assert.That(Directory.GetFiles(_dir, "*.data", SearchOption.AllDirectories), Is.Empty, "its data file is removed too");
        }
    }

    [Test]
    public async Task The_disk_cache_evicts_least_recently_used_versions_beyond_its_size()
    {
        using var disk = DiskCache.Open(_dir, 5L << 20)!;
        var pool = new BufferPool(64L << 20, 0);
        var seg = pool.Rent(2 << 20);
        var versions = Enumerable.Range(0, 4).Select(i => new ObjectVersion("mem://cache", $"k{i}", "\"e\"", 2 << 20)).ToList();
        foreach (var v in versions)
        {
            disk.Write(v, 0, seg);
            disk.Commit(v.Id);
            await Task.Delay(20);
        }
        Assert.That(disk.UsedBytes, Is.LessThanOrEqualTo(5L << 20));
        Assert.That(disk.Contains(versions[0], 0), Is.False, "the oldest went first");
        Assert.That(disk.Contains(versions[3], 0), Is.True);
    }

    [Test]
    public void A_new_version_of_a_key_replaces_the_old_one()
    {
        using var disk = DiskCache.Open(_dir, 1L << 30)!;
        var pool = new BufferPool(64L << 20, 0);
        var seg = pool.Rent(1 << 20);
        var v1 = new ObjectVersion("mem://cache", "k", "\"1\"", 1 << 20);
        var v2 = new ObjectVersion("mem://cache", "k", "\"2\"", 1 << 20);
        disk.Write(v1, 0, seg);
        disk.Commit(v1.Id);
        disk.Write(v2, 0, seg);
        disk.Commit(v2.Id);
        Assert.That(disk.Contains(v1, 0), Is.False);
        Assert.That(disk.Contains(v2, 0), Is.True);
        Assert.That(disk.List().Select(e => e.Version.ETag), Is.EqualTo(new[] { "\"2\"" }));
    }

    [Test]
    public void A_second_process_cannot_share_a_cache_folder()
    {
        using var first = DiskCache.Open(_dir, 1L << 30);
        Assert.That(first, Is.Not.Null);
        Assert.That(DiskCache.Open(_dir, 1L << 30), Is.Null);
    }

    [Test]
    public async Task The_memory_tier_serves_random_reads_again_without_requests()
    {
        using var memory = new MemoryBlockCache(8L << 20);
        await using var caches = new ReadCaches(memory, null);
        await using var p = new Prefetcher(_store, () => "obj", _etag, _data.Length, new ReadAheadOptions(), caches: caches);
        var b = new byte[4096];
        await p.ReadAsync(15_000_000, b, CancellationToken.None);
        // More random reads than the handle keeps streams for: the first block is no longer held by any stream.
        foreach (long at in new long[] { 3_000_000, 7_500_000, 11_000_000, 19_000_000, 1_000 })
        {
            await p.ReadAsync(at, b, CancellationToken.None);
        }
        long gets = _stats[RequestKind.Get];
        await p.ReadAsync(15_000_100, b, CancellationToken.None);
        Assert.That(b.AsSpan().SequenceEqual(_data.AsSpan(15_000_100, 4096)));
        Assert.That(_stats[RequestKind.Get], Is.EqualTo(gets));
        Assert.That(caches.ToString(), Does.Match(@"memory hits [1-9]"));
    }
}
