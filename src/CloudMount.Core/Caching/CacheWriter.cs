using System.Threading.Channels;

namespace CloudMount.Core.Caching;

/// <summary>
/// Writes fetched blocks into the disk cache in the background, so a read never waits for the cache's disk.
/// Each job holds its buffer until written (the job's <c>release</c> gives it back). Flushes and record updates
/// (<see cref="DiskCache.Commit"/>) are batched: once no block has arrived for <see cref="IdleCommitDelay"/>, or
/// when an entry's oldest unclaimed write is <see cref="MaxCommitDelay"/> old, and at dispose. A flush during a
/// large read would compete with it for the disk. When the queue is full, new blocks are simply not cached: it
/// holds up to <see cref="QueuedJobs"/> jobs of any size, and more while their buffers stay under
/// <see cref="QueuedSmallBytes"/> (many small files read at once, each a small buffer, are all cached).
/// The writer is a thread of its own: its blocking writes (direct I/O, one part at a time) never hold one of the
/// few thread-pool threads a small machine has while reads wait for their continuations.
/// </summary>
public sealed class CacheWriter : IAsyncDisposable
{
    private readonly DiskCache _disk;
    private readonly Channel<Job> _queue = Channel.CreateUnbounded<Job>(new UnboundedChannelOptions { SingleReader = true });
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _dropped;

    /// <summary>Jobs queued and not yet written, and the bytes of their buffers (whole arrays); updated with Interlocked.</summary>
    private long _queuedJobs, _queuedBytes;

    /// <summary>Jobs the queue takes whatever their size (32: up to 32 read-ahead parts of a stream).</summary>
    public const int QueuedJobs = 32;

    /// <summary>Bytes of buffers beyond which no job past <see cref="QueuedJobs"/> is queued (16 MiB).</summary>
    public const long QueuedSmallBytes = 16L << 20;

    private readonly record struct Job(ObjectVersion Version, long FirstBlock, ArraySegment<byte> Data, string? Encoding, Action Release, long Cost);

    /// <summary>Blocks this short are copied out of their pooled buffer (at least 64 KiB) when queued, which goes back at once.</summary>
    public const int CopiedBytes = 16 * 1024;

    /// <summary>Starts the background writer for <paramref name="disk"/>.</summary>
    public CacheWriter(DiskCache disk)
    {
        _disk = disk;
        var thread = new Thread(Run) { IsBackground = true, Name = "cloudmount cache writer" };
        thread.Start();
    }

    /// <summary>Jobs dropped because the queue was full.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>
    /// Queues blocks for caching. <paramref name="release"/> is called once the bytes are no longer needed,
    /// whether they were written or dropped.
    /// </summary>
    public void Enqueue(in ObjectVersion version, long firstBlock, ArraySegment<byte> data, string? encoding, Action release)
    {
        if (data.Count <= CopiedBytes)
        {
            // A small file's block: queue its bytes, not the pool's 64 KiB buffer (thousands may wait at once).
            var copy = new ArraySegment<byte>(data.AsSpan().ToArray());
            release();
            data = copy;
            release = static () => { };
        }
        long cost = data.Array!.Length + 256; // and the job's own bookkeeping
        long jobs = Interlocked.Increment(ref _queuedJobs);
        long bytes = Interlocked.Add(ref _queuedBytes, cost);
        if ((jobs > QueuedJobs && bytes > QueuedSmallBytes) || !_queue.Writer.TryWrite(new Job(version, firstBlock, data, encoding, release, cost)))
        {
            Dequeued(cost);
            Interlocked.Increment(ref _dropped);
            release();
        }
    }

    /// <summary>Quiet time after which written blocks are flushed and claimed.</summary>
    public static TimeSpan IdleCommitDelay { get; } = TimeSpan.FromSeconds(3);

    /// <summary>Longest time a written block stays unclaimed while writes keep coming.</summary>
    public static TimeSpan MaxCommitDelay { get; } = TimeSpan.FromSeconds(30);

    private void Run()
    {
        try
        {
            RunLoop();
            _stopped.TrySetResult();
        }
        catch (Exception e)
        {
            _stopped.TrySetException(e);
        }
    }

    private void RunLoop()
    {
        // Entry id -> time of its oldest unclaimed write. Bound: the entries written since the last commit, at most
        // those of MaxCommitDelay of reading.
        var dirty = new Dictionary<string, DateTime>();
        var reader = _queue.Reader;
        while (true)
        {
            bool more;
            if (dirty.Count == 0)
            {
                more = reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult();
            }
            else
            {
                using var idle = new CancellationTokenSource(IdleCommitDelay);
                try
                {
                    more = reader.WaitToReadAsync(idle.Token).AsTask().GetAwaiter().GetResult();
                }
                catch (OperationCanceledException)
                {
                    CommitAll(dirty);
                    continue;
                }
            }
            if (!more) break;
            while (reader.TryRead(out var job))
            {
                try
                {
                    if (_disk.Write(job.Version, job.FirstBlock, job.Data, job.Encoding) is { } id && !dirty.ContainsKey(id))
                    {
                        dirty[id] = DateTime.UtcNow;
                    }
                }
                finally
                {
                    Dequeued(job.Cost);
                    job.Release();
                }
            }
            var due = dirty.Where(d => DateTime.UtcNow - d.Value >= MaxCommitDelay).Select(d => d.Key).ToList();
            if (due.Count > 0)
            {
                _disk.CommitMany(due);
                foreach (var id in due) dirty.Remove(id);
            }
        }
        CommitAll(dirty);
    }

    private void Dequeued(long cost)
    {
        Interlocked.Decrement(ref _queuedJobs);
        Interlocked.Add(ref _queuedBytes, -cost);
    }

    private void CommitAll(Dictionary<string, DateTime> dirty)
    {
        _disk.CommitMany(dirty.Keys.ToList());
        dirty.Clear();
    }

    /// <summary>Writes what is queued, commits it, and stops.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _stopped.Task.ConfigureAwait(false);
    }
}
