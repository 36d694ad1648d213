using CloudMount.Core;
using CloudMount.Core.Caching;
using CloudMount.Core.Reading;
using CloudMount.Core.Storage;
using CloudMount.Core.Storage.Decorators;
using CloudMount.Core.Storage.Memory;
using CloudMount.Tests.Support;

namespace CloudMount.Tests.Unit;

/// <summary>
/// A random reader that keeps coming back to one object (fio over a file, a database) reads ahead once its reads
/// have fetched a sixteenth of the object's blocks: later misses fetch the uncached blocks after them in the same
/// pass, which fill to their end into the disk tier even when no reader holds them, and no block is fetched twice.
/// A sparse random reader of a large object fetches exactly the blocks it reads.
/// </summary>
public sealed class DenseRandomReadTests
{
    private const int MiB = 1 << 20;
    private const int ReadBytes = 256 * 1024;

    private static async Task<(IObjectStore Store, RequestStats Stats, byte[] Data, string ETag)> ObjectAsync(int mib)
    {
        var mem = new MemoryObjectStore("denserandom");
        var stats = new RequestStats();
        var data = new byte[mib * MiB];
        new Random(mib).NextBytes(data);
        string etag = (await mem.WriteAsync("obj", ObjectContent.FromBytes(data), ObjectWriteOptions.Default, CancellationToken.None)).ETag!;
        return (new CountingObjectStore(mem, stats), stats, data, etag);
    }

    private static async Task ReadBlocksAsync(Prefetcher p, byte[] data, IEnumerable<int> blocks)
    {
        var b = new byte[ReadBytes];
        foreach (int block in blocks)
        {
            long offset = (long)block * MiB + 3 * ReadBytes; // the last quarter of the block: no read continues another
            int n = await p.ReadAsync(offset, b, CancellationToken.None);
            Assert.That(n, Is.EqualTo(ReadBytes), $"length at block {block}");
            Assert.That(b.AsSpan().SequenceEqual(data.AsSpan((int)offset, ReadBytes)), $"bytes of block {block}");
        }
    }

    [Test]
    public async Task A_dense_random_reader_reads_ahead_and_fetches_each_block_once()
    {
        var (store, stats, data, etag) = await ObjectAsync(64);
        using var disk = DiskCache.Open(Paths.NewDir("denserandom"), 1L << 30)!;
        await using var caches = new ReadCaches(null, disk);
        var version = new ObjectVersion(store.Name, "obj", etag, data.Length);
        // Every block once, in an order where no read follows the block before it.
        var order = Enumerable.Range(0, 64).OrderBy(i => (i * 37) % 64).ToList();
        await using (var p = new Prefetcher(store, () => "obj", etag, data.Length, new ReadAheadOptions(), caches: caches))
        {
            await ReadBlocksAsync(p, data, order);
        }
        // The read-ahead parts fill to their end although their file is closed.
        for (int i = 0; i < 400 && Enumerable.Range(0, 64).Any(b => !disk.Contains(version, b)); i++) await Task.Delay(25);
        Assert.That(Enumerable.Range(0, 64).Where(b => !disk.Contains(version, b)), Is.Empty, "blocks the disk tier lacks");
        Assert.That(stats.BytesDownloaded, Is.EqualTo(data.Length), "no block fetched twice, none cancelled half-way");
        // 16 blocks one by one, then each miss with the uncached blocks after it (this order leaves runs of up to
        // three): 50 GETs where one per block would be 64, with no more bytes.
        Assert.That(stats[RequestKind.Get], Is.LessThan(56), "GETs");
        Assert.That(stats[RequestKind.Get], Is.GreaterThanOrEqualTo(BlockTable.DenseRandomMinimumBlocks), "one by one until dense");

        // Once in the disk tier, every read is local.
        long gets = stats[RequestKind.Get];
        await using (var again = new Prefetcher(store, () => "obj", etag, data.Length, new ReadAheadOptions(), caches: caches))
        {
            await ReadBlocksAsync(again, data, order.AsEnumerable().Reverse());
        }
        Assert.That(stats[RequestKind.Get], Is.EqualTo(gets));
    }

    [Test]
    public async Task A_sparse_random_reader_of_a_large_object_fetches_only_the_blocks_it_reads()
    {
        var (store, stats, data, etag) = await ObjectAsync(400);
        using var disk = DiskCache.Open(Paths.NewDir("sparserandom"), 1L << 30)!;
        await using var caches = new ReadCaches(null, disk);
        // 24 blocks of 400: fewer than one in sixteen.
        var blocks = Enumerable.Range(0, 24).Select(i => (i * 157 + 11) % 400).ToList();
        await using (var p = new Prefetcher(store, () => "obj", etag, data.Length, new ReadAheadOptions(), caches: caches))
        {
            await ReadBlocksAsync(p, data, blocks);
        }
        Assert.That(stats[RequestKind.Get], Is.EqualTo(24), "one GET per block read");
        Assert.That(stats.BytesDownloaded, Is.EqualTo(24L * MiB), "one block per GET");
    }
}
