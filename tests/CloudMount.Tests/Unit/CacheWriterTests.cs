using CloudMount.Core;
using CloudMount.Core.Caching;
using CloudMount.Tests.Support;

namespace CloudMount.Tests.Unit;

/// <summary>The background cache writer's queue: many small files read at once are all cached; large blocks stay bounded.</summary>
public sealed class CacheWriterTests
{
    [Test]
    public async Task Three_thousand_small_files_queued_at_once_are_all_written_and_every_buffer_is_given_back()
    {
        string dir = Paths.NewDir("cachewriter");
        var pool = new BufferPool(64L << 20, 0, trackOwnership: true);
        var versions = Enumerable.Range(0, 3_000).Select(i => new ObjectVersion("mem://w", $"f{i:0000}", $"\"{i}\"", 300 + i % 7)).ToList();
        int released = 0;
        CacheWriter writer;
        using (var disk = DiskCache.Open(dir, 1L << 30)!)
        {
            writer = new CacheWriter(disk);
            foreach (var v in versions)
            {
                var data = pool.Rent((int)v.Size);
                data.AsSpan().Fill((byte)v.Size);
                writer.Enqueue(v, 0, data, null, () => { pool.Return(data); Interlocked.Increment(ref released); });
            }
            await writer.DisposeAsync();
            Assert.That(writer.Dropped, Is.Zero, "small jobs are queued beyond the 32 large ones the queue always takes");
            Assert.That(released, Is.EqualTo(versions.Count));
            Assert.That(pool.OutstandingBytes, Is.Zero);
            Assert.That(versions.All(v => disk.Contains(v, 0)), Is.True);
        }
        using var reopened = DiskCache.Open(dir, 1L << 30)!;
        var back = new byte[306];
        Assert.That(reopened.TryReadBytes(versions[1234], 0, back.AsSpan(0, (int)versions[1234].Size)), Is.True);
        Assert.That(back.AsSpan(0, (int)versions[1234].Size).ToArray(), Is.All.EqualTo((byte)versions[1234].Size));
    }

    [Test]
    public async Task Large_blocks_beyond_the_queue_are_dropped_and_given_back_at_once()
    {
        string dir = Paths.NewDir("cachewriter");
        var pool = new BufferPool(1L << 30, 0, trackOwnership: true);
        int released = 0;
        using var disk = DiskCache.Open(dir, 4L << 30)!;
        var writer = new CacheWriter(disk);
        const int jobs = 200;
        for (int i = 0; i < jobs; i++)
        {
            var v = new ObjectVersion("mem://w", $"big{i}", "\"e\"", 1 << 20);
            var data = pool.Rent(1 << 20);
            writer.Enqueue(v, 0, data, null, () => { pool.Return(data); Interlocked.Increment(ref released); });
        }
        // 200 MiB queued at once: the queue takes its 32 jobs (and any the writer finished meanwhile), not all.
        Assert.That(writer.Dropped, Is.GreaterThan(0));
        await writer.DisposeAsync();
        Assert.That(released, Is.EqualTo(jobs));
        Assert.That(pool.OutstandingBytes, Is.Zero);
    }
}
