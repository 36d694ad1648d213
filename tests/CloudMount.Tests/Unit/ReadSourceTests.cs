using System.IO.Compression;
using CloudMount.Core;
using CloudMount.Core.Caching;
using CloudMount.Core.Codecs;
using CloudMount.Core.Reading;
using CloudMount.Core.Storage;
using CloudMount.Core.Storage.LocalFs;
using CloudMount.Core.Storage.Memory;
using CloudMount.Tests.Support;

namespace CloudMount.Tests.Unit;

/// <summary>file:// files read in place, and decoded copies bounded by their readers.</summary>
public sealed class ReadSourceTests
{
    [Test]
    public async Task A_local_store_is_read_in_place_without_filling_the_disk_cache_and_keeps_the_version_opened()
    {
        string root = Paths.NewDir("localsrc");
        var data = new byte[5 * 1024 * 1024 + 99];
        new Random(3).NextBytes(data);
        await File.WriteAllBytesAsync(Path.Combine(root, "f.bin"), data);
        var store = new LocalFsObjectStore(root);
        var info = (await store.HeadAsync("f.bin", CancellationToken.None))!;
        using var disk = DiskCache.Open(Paths.NewDir("localcache"), 1L << 30)!;
        await using var caches = new ReadCaches(null, disk);
        await using var p = new Prefetcher(store, () => "f.bin", info.ETag, info.Size, new ReadAheadOptions(), caches: caches);
        Assert.That(await p.StartAsync(CancellationToken.None), Is.Null, "no request to learn the encoding: a local file has none");
        var b = new byte[300_000];
        Assert.That(await p.ReadAsync(1_000_000, b, CancellationToken.None), Is.EqualTo(b.Length));
        Assert.That(b.AsSpan().SequenceEqual(data.AsSpan(1_000_000, b.Length)));
        // A write renames a new file into place: the open file keeps reading the version it opened.
        await store.WriteAsync("f.bin", ObjectContent.FromBytes(new byte[data.Length]), ObjectWriteOptions.Default, CancellationToken.None);
        Assert.That(await p.ReadAsync(4_000_000, b, CancellationToken.None), Is.EqualTo(b.Length));
        Assert.That(b.AsSpan().SequenceEqual(data.AsSpan(4_000_000, b.Length)), "bytes of the version opened");
        Assert.That(await p.ReadAsync(data.Length - 10, b, CancellationToken.None), Is.EqualTo(10));
        await caches.DisposeAsync();
        Assert.That(disk.UsedBytes, Is.Zero, "nothing copied into the disk cache");
        Assert.That(p.RequestCount, Is.Zero);
    }

    [Test]
    public async Task A_local_file_changed_before_its_first_read_fails_as_stale()
    {
        string root = Paths.NewDir("localstale");
        await File.WriteAllBytesAsync(Path.Combine(root, "f.bin"), new byte[1000]);
        var store = new LocalFsObjectStore(root);
        var info = (await store.HeadAsync("f.bin", CancellationToken.None))!;
        await using var p = new Prefetcher(store, () => "f.bin", info.ETag, info.Size, new ReadAheadOptions());
        await Task.Delay(20);
        await store.WriteAsync("f.bin", ObjectContent.FromBytes(new byte[2000]), ObjectWriteOptions.Default, CancellationToken.None);
        Assert.ThrowsAsync<PreconditionFailedException>(async () => await p.ReadAsync(0, new byte[10], CancellationToken.None));
    }

    [Test]
    public async Task Decoded_copies_nobody_reads_are_closed_and_forgotten()
    {
        var mem = new MemoryObjectStore("decbound");
        var plain = new byte[200_000];
        new Random(4).NextBytes(plain);
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true)) gz.Write(plain);
        var stored = new List<ObjectInfo>();
        for (int i = 0; i < 60; i++)
        {
            var w = await mem.WriteAsync($"k{i}.gz", ObjectContent.FromBytes(ms.ToArray()), new ObjectWriteOptions { ContentEncoding = "gzip" }, CancellationToken.None);
            stored.Add((await mem.HeadAsync($"k{i}.gz", CancellationToken.None))!);
        }
        await using var copies = new DecodedCopies(mem, Paths.NewDir("decoded"), 1L << 30, readAhead: new ReadAheadOptions());
        int before = Directory.GetFiles("/proc/self/fd").Length;
        for (int round = 0; round < 2; round++)
        {
            foreach (var info in stored)
            {
                var copy = copies.Acquire(info);
                Assert.That(await copy.Completion, Is.EqualTo(plain.Length));
                var b = new byte[1000];
                await copy.WaitForAsync(151_000, CancellationToken.None);
                Assert.That(copy.Read(150_000, b), Is.EqualTo(1000));
                Assert.That(b.AsSpan().SequenceEqual(plain.AsSpan(150_000, 1000)));
                copies.Release(copy);
            }
        }
        Assert.That(copies.HeldCount, Is.Zero, "no copy is held once its readers are gone and its pass has ended");
        Assert.That(Directory.GetFiles("/proc/self/fd").Length - before, Is.LessThan(10), "their descriptors are closed");
    }
}
