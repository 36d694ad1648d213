using CloudMount.Core.Caching;
using CloudMount.Core.Storage;
using Microsoft.Extensions.Logging;

namespace CloudMount.Core.Reading;

/// <summary>
/// The blocks of one object version that are being fetched or are held for readers, shared by every open file
/// reading that version: a block is fetched once, and a reader that needs a block another reader's read-ahead is
/// already fetching waits for that fetch instead of starting its own.
/// </summary>
/// <remarks>
/// <para>Each block of the object (<see cref="ObjectVersion.BlockSize"/>) is covered by at most one live
/// <see cref="Part"/> in <c>_blocks</c>. A part is filled block by block from the memory cache, the disk cache, or
/// one range request for each run of blocks no cache holds; fetched blocks go to the caches. A fill is cancelled
/// only when no stream or reader wants the part any more, so a read never cancels bytes another reader holds.</para>
/// <para>Bound: every part in <c>_blocks</c> is held by a stream's window, a lease, its fill or the cache writer;
/// read-ahead parts are rented within the <see cref="BufferPool"/> budget, so the table holds at most that budget
/// plus the bytes of reads in progress.</para>
/// <para>Locking: <c>_lock</c> guards <c>_blocks</c>, every part's interest and pin counts, and the streams of every
/// <see cref="Prefetcher"/> on this table. Nothing is awaited and no store or cache call is made under it.</para>
/// </remarks>
internal sealed class BlockTable
{
    private readonly IObjectStore _store;
    private readonly Func<string> _key;
    private readonly string? _etag;
    private readonly ReadCaches? _caches;
    private readonly ObjectVersion? _version;
    private readonly BufferPool _pool;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _readAhead;
    private readonly Dictionary<long, Part> _blocks = [];  // block index -> live part; protected by Lock
    // The answer holding byte 0, for the opens waiting on it; replaced when a fetch of block 0 fails, so a later
    // open asks again instead of getting the old failure.
    private TaskCompletionSource<ObjectInfo?> _firstResponse = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _requests;
    private long _randomMissBlocks;   // blocks fetched for random readers that waited on them; protected by Lock
    private long _fetchedBytes;

    public BlockTable(IObjectStore store, Func<string> key, string? etag, long size, ReadAheadOptions options, ILogger logger,
        ReadCaches? caches, BufferPool pool)
    {
        _store = store;
        _key = key;
        _etag = etag;
        Size = size;
        Options = options;
        _logger = logger;
        _pool = pool;
        if (caches is not null && etag is not null)
        {
            _caches = caches;
            _version = new ObjectVersion(store.Name, key(), etag, size);
        }
        _readAhead = new SemaphoreSlim(Math.Max(1, options.MaxParallelParts));
    }

    /// <summary>Guards the table and the streams of the prefetchers on it.</summary>
    public Lock Lock { get; } = new();

    /// <summary>The object's size in bytes.</summary>
    public long Size { get; }

    /// <summary>Window and part sizes.</summary>
    public ReadAheadOptions Options { get; }

    /// <summary>Range requests started.</summary>
    public long RequestCount => Interlocked.Read(ref _requests);

    /// <summary>Bytes received from the store.</summary>
    public long FetchedBytes => Interlocked.Read(ref _fetchedBytes);

    /// <summary>
    /// What the store said in the answer that held byte 0, or <c>null</c> when block 0 came from a cache. Read it
    /// under <see cref="Lock"/> before planning the read of block 0: a failed fetch faults the task it was started
    /// for, and later readers get a new one.
    /// </summary>
    public Task<ObjectInfo?> FirstResponse => Volatile.Read(ref _firstResponse).Task;

    /// <summary>Parts now in the table (tests).</summary>
    public int LivePartCount
    {
        get
        {
            lock (Lock) return _blocks.Values.Distinct().Count();
        }
    }

    private static long BlockOf(long offset) => offset / ObjectVersion.BlockSize;

    /// <summary>
    /// Takes one interest in each part covering bytes [<paramref name="from"/>, <paramref name="to"/>), creating
    /// parts for blocks no live part covers. Caller holds <see cref="Lock"/>, and starts <paramref name="started"/>
    /// with <see cref="Start"/> once it has let go of it.
    /// </summary>
    /// <param name="from">First byte wanted.</param>
    /// <param name="to">One past the last byte wanted.</param>
    /// <param name="demand">A reader waits for these bytes: buffers are rented whatever the budget. Otherwise
    /// (read-ahead) new parts stop at the budget, and the returned parts may cover less.</param>
    /// <param name="random">New parts are made for a random read.</param>
    /// <param name="into">Receives the parts, in order, each once.</param>
    /// <param name="started">Receives the new parts.</param>
    /// <returns>One past the last byte covered (<paramref name="to"/> unless read-ahead hit the budget).</returns>
    public long AcquireLocked(long from, long to, bool demand, bool random, List<Part> into, List<Part> started)
    {
        const long block = ObjectVersion.BlockSize;
        to = Math.Min(to, Size);
        long b = BlockOf(from), last = (to + block - 1) / block;
        long partBlocks = Math.Max(1, Options.PartBytes / block);
        while (b < last)
        {
            if (_blocks.TryGetValue(b, out var p))
            {
                if (into.Count == 0 || into[^1] != p)
                {
                    p.Interest++;
                    into.Add(p);
                }
                b = BlockOf(p.End - 1) + 1;
                continue;
            }
            long run = b + 1;
            while (run < last && run - b < partBlocks && !_blocks.ContainsKey(run)) run++;
            long start = b * block, length = Math.Min(Size, run * block) - start;
            ArraySegment<byte>? buffer = demand ? _pool.Rent((int)length) : _pool.TryRent((int)length);
            if (buffer is not { } segment)
            {
                return start; // over budget: read-ahead waits for buffers to come back
            }
            // A random read's blocks fill to their end when the version has caches: the reader got its bytes, and
            // the rest goes into the caches for the next random read (cancelled half-way, it was fetched again).
            var part = new Part(start, length, segment, _pool, random, demand) { Interest = 1, Pins = 1, Mapped = true, KeepFilling = random && demand && _version is not null };
            if (random && demand) _randomMissBlocks += run - b;
            for (long i = b; i < run; i++) _blocks[i] = part;
            into.Add(part);
            started.Add(part);
            b = run;
        }
        return to;
    }

    /// <summary>Random reads must have fetched this many blocks, and one in <see cref="DenseRandomFraction"/> of the object's, before they read ahead.</summary>
    internal const int DenseRandomMinimumBlocks = 16;

    /// <summary>See <see cref="DenseRandomMinimumBlocks"/>.</summary>
    internal const int DenseRandomFraction = 16;

    /// <summary>Blocks a dense random reader fetches after the one it waits on.</summary>
    internal const int RandomAheadBlocks = 7;

    /// <summary>
    /// Read-ahead for a random reader that keeps coming back to one object (a database, fio over a file): once random
    /// reads have fetched <see cref="DenseRandomMinimumBlocks"/> blocks and one in <see cref="DenseRandomFraction"/> of
    /// the object's, the blocks right after [<paramref name="from"/>, <paramref name="to"/>) that no part and no cache
    /// tier holds, up to <see cref="RandomAheadBlocks"/>, are fetched as one read-ahead part (within the buffer
    /// budget and the read-ahead request slots) that no reader waits for and that fills to its end
    /// (<see cref="Part.KeepFilling"/>), into the disk cache. A sparse reader of a large object never reads ahead, so
    /// its reads stay one block each. Caller holds <see cref="Lock"/> and starts <paramref name="started"/>.
    /// </summary>
    public void AcquireRandomAheadLocked(long from, long to, List<Part> started)
    {
        const long block = ObjectVersion.BlockSize;
        long blocks = (Size + block - 1) / block;
        if (_version is not { } v || to <= from || _randomMissBlocks < DenseRandomMinimumBlocks || _randomMissBlocks * DenseRandomFraction < blocks) return;
        long first = BlockOf(to - 1) + 1, end = first;
        while (end < Math.Min(blocks, first + RandomAheadBlocks) && !_blocks.ContainsKey(end) && !_caches!.Contains(v, end)) end++;
        if (end == first) return;
        var ahead = new List<Part>(1);
        AcquireLocked(first * block, Math.Min(Size, end * block), demand: false, random: false, ahead, started);
        foreach (var p in ahead)
        {
            p.KeepFilling = true;
            ReleaseInterestLocked(p); // no one holds it: it fills to its end and leaves the table
        }
    }

    /// <summary>True when the version has cache tiers to read from (its ETag is known).</summary>
    public bool HasCaches => _version is not null;

    /// <summary>True when a live part covers some block of bytes [<paramref name="from"/>, <paramref name="to"/>). Caller holds <see cref="Lock"/>.</summary>
    public bool CoversAnyLocked(long from, long to)
    {
        for (long b = BlockOf(from); b <= BlockOf(Math.Max(from, to - 1)); b++)
        {
            if (_blocks.ContainsKey(b)) return true;
        }
        return false;
    }

    /// <summary>
    /// Copies bytes [<paramref name="offset"/>, <paramref name="offset"/> + <c>destination.Length</c>) from the cache
    /// tiers, only those bytes; false when a block they touch is in no tier. Called outside <see cref="Lock"/>.
    /// </summary>
    public bool TryReadCached(long offset, Span<byte> destination) =>
        _version is { } v && _caches!.TryReadBytes(v, offset, destination);

    /// <summary>
    /// Bytes [<paramref name="offset"/>, <paramref name="offset"/> + <paramref name="length"/>) as a range of the disk
    /// tier's file (<see cref="ReadCaches.TryLeaseFile"/>), or <c>null</c>. Called outside <see cref="Lock"/>.
    /// </summary>
    public ReadLease? TryLeaseCachedFile(long offset, int length) =>
        _version is { } v ? _caches!.TryLeaseFile(v, offset, length) : null;

    /// <summary>Adds one interest to a part the caller already holds. Caller holds <see cref="Lock"/>.</summary>
    public static void AddInterestLocked(Part p) => p.Interest++;

    /// <summary>
    /// Drops one interest. The last interest of a part still filling cancels the fill (and the part leaves the
    /// table); caller holds <see cref="Lock"/>.
    /// </summary>
    /// <returns>The part when this call cancelled its fill (await its <see cref="Part.Fetched"/>), else null.</returns>
    public Part? ReleaseInterestLocked(Part p)
    {
        System.Diagnostics.Debug.Assert(p.Interest > 0, "interest released more often than taken");
        if (--p.Interest > 0) return null;
        Part? cancelled = null;
        if (!p.IsComplete && !p.KeepFilling && !p.Cancellation.IsCancellationRequested && !p.IsFaulted)
        {
            p.Cancellation.Cancel();
            UnmapLocked(p);
            cancelled = p;
        }
        FreeIfUnheldLocked(p);
        return cancelled;
    }

    /// <summary>Drops interests of several parts, each once.</summary>
    public void Release(IReadOnlyList<Part> parts)
    {
        lock (Lock)
        {
            foreach (var p in parts) ReleaseInterestLocked(p);
        }
    }

    private void Unpin(Part p)
    {
        lock (Lock)
        {
            p.Pins--;
            FreeIfUnheldLocked(p);
        }
    }

    private void Pin(Part p)
    {
        lock (Lock) p.Pins++;
    }

    private void UnmapLocked(Part p)
    {
        if (!p.Mapped) return;
        p.Mapped = false;
        for (long b = BlockOf(p.Start); b <= BlockOf(p.End - 1); b++)
        {
            if (_blocks.TryGetValue(b, out var q) && q == p) _blocks.Remove(b);
        }
    }

    private void FreeIfUnheldLocked(Part p)
    {
        if (p.Interest > 0 || p.Pins > 0 || p.Dead) return;
        UnmapLocked(p);
        p.Dead = true;
        p.ReturnBuffer();
    }

    /// <summary>Starts the fills of new parts (outside the lock).</summary>
    public void Start(List<Part> started)
    {
        foreach (var p in started)
        {
            Interlocked.Increment(ref _requests);
            _ = FillAsync(p);
        }
    }

    private async Task FillAsync(Part part)
    {
        var ct = part.Cancellation.Token;
        bool slot = false;
        try
        {
            const int block = ObjectVersion.BlockSize;
            long first = part.Start / block;
            int blocks = (int)((part.Length + block - 1) / block);
            int i = 0;
            while (i < blocks)
            {
                int at = i * block;
                int length = (int)Math.Min(block, part.Length - at);
                if (_version is { } v && _caches!.TryRead(v, first + i, part.Buffer.Slice(at, length), preferPageCache: part.Random))
                {
                    if (first + i == 0) Volatile.Read(ref _firstResponse).TrySetResult(null);
                    part.Advance(length);
                    i++;
                    continue;
                }
                // A run of blocks no cache holds: one range request.
                int j = i + 1;
                while (j < blocks && !(_version is { } w && _caches!.Contains(w, first + j))) j++;
                int runEnd = (int)Math.Min(part.Length, (long)j * block);
                if (!part.Demand && !slot)
                {
                    await _readAhead.WaitAsync(ct).ConfigureAwait(false);
                    slot = true;
                }
                var served = await FetchRangeAsync(part, at, runEnd, ct).ConfigureAwait(false);
                if (_version is { } fetched)
                {
                    // The cache writer pins the buffer until the bytes are on disk.
                    Pin(part);
                    _caches!.Store(fetched, first + i, part.Buffer.Slice(at, runEnd - at),
                        inMemory: part.Random || Size <= 8 * ObjectVersion.BlockSize, encoding: served.ContentEncoding, release: () => Unpin(part));
                }
                i = j;
            }
            part.Complete();
        }
        catch (Exception e)
        {
            if (!ct.IsCancellationRequested)
            {
                _logger.LogWarning("read of {Key} bytes {Start}-{End} failed: {Error}", _key(), part.Start, part.End - 1, e.Message);
            }
            TaskCompletionSource<ObjectInfo?>? failedFirst = null;
            lock (Lock)
            {
                UnmapLocked(part); // a later reader starts afresh
                if (part.Start == 0)
                {
                    failedFirst = Interlocked.Exchange(ref _firstResponse, new(TaskCreationOptions.RunContinuationsAsynchronously));
                }
            }
            failedFirst?.TrySetException(e);
            part.Fail(e);
        }
        finally
        {
            if (slot) _readAhead.Release();
            part.FetchEnded();
            Unpin(part);
        }
    }

    /// <summary>Streams bytes [<paramref name="from"/>, <paramref name="to"/>) of the part from the store into its buffer.</summary>
    private async Task<ObjectInfo> FetchRangeAsync(Part part, int from, int to, CancellationToken ct)
    {
        string key = _key();
        await using var result = await _store.ReadAsync(key, new ByteRange(part.Start + from, to - from), _etag, ct).ConfigureAwait(false);
        if (_etag is not null && result.Info.ETag is { } got && got != _etag)
        {
            // Some servers ignore If-Match; never hand out bytes of another version.
            throw new PreconditionFailedException(key, _etag);
        }
        if (part.Start + from == 0) Volatile.Read(ref _firstResponse).TrySetResult(result.Info);
        int filled = from;
        while (filled < to)
        {
            int n = await result.Content.ReadAsync(part.Buffer.AsMemory(filled, to - filled), ct).ConfigureAwait(false);
            if (n == 0)
            {
                throw new InvalidResponseException($"{key}: body ended at byte {part.Start + filled}, expected {part.Start + to}");
            }
            filled += n;
            Interlocked.Add(ref _fetchedBytes, n);
            part.Advance(n);
        }
        return result.Info;
    }
}
