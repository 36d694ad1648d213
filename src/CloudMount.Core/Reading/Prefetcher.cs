using CloudMount.Core.Caching;
using CloudMount.Core.Diagnostics;
using CloudMount.Core.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CloudMount.Core.Reading;

/// <summary>
/// Serves reads of one open file from range requests that run ahead of the reader.
/// </summary>
/// <remarks>
/// <para>Algorithm (after mountpoint-s3's prefetcher): the file is covered by a list of contiguous
/// <em>parts</em>, each one range GET streaming into a pooled buffer. A read inside the covered range, or a
/// short forward jump past it, is sequential: the window (bytes kept ahead of the reader) doubles each time the
/// reader has consumed half of it, from <see cref="ReadAheadOptions.InitialWindowBytes"/> up to
/// <see cref="ReadAheadOptions.MaxWindowBytes"/>, and new
/// parts of up to <see cref="ReadAheadOptions.PartBytes"/> are started once at least one part's worth (or the
/// whole window, while it is smaller) is missing, so requests stay large. Any other read is random: every part
/// is dropped and the window starts again at its initial size from the read's offset. Readers wait only for
/// the bytes they need, not for whole parts, so the first byte arrives after one round trip.</para>
/// <para>Every request names the ETag seen at open (If-Match), and an answer with another ETag is refused, so
/// bytes of two versions are never mixed: the read fails with <see cref="PreconditionFailedException"/>.</para>
/// <para>Thread safety: reads may arrive concurrently and out of order (the kernel's async read-ahead);
/// <c>_lock</c> protects the part list and window; each part guards its own fill state.</para>
/// </remarks>
public sealed class Prefetcher : IAsyncDisposable
{
    private readonly IObjectStore _store;
    private readonly Func<string> _key;
    private readonly string? _etag;
    private readonly long _size;
    private readonly ReadAheadOptions _options;
    private readonly ILogger _logger;
    private readonly ReadCaches? _caches;
    private readonly ObjectVersion? _version;
    private readonly BufferPool _pool;
    private readonly SemaphoreSlim _parallel;
    private readonly CancellationTokenSource _disposed = new();
    private readonly Lock _lock = new();
    private readonly List<Part> _parts = [];    // protected by _lock; contiguous and ascending
    private long _window;                         // protected by _lock
    private long _consumedSinceGrowth;            // protected by _lock
    private readonly TaskCompletionSource<ObjectInfo?> _firstResponse = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _requests;

    /// <summary>Creates a prefetcher for one open file.</summary>
    /// <param name="store">Where the bytes come from.</param>
    /// <param name="key">Gives the object's current key (it may change through a rename while the file is open).</param>
    /// <param name="etag">The ETag seen at open, pinned for every request; <c>null</c> when the store gives none.</param>
    /// <param name="size">The object's size in bytes at open; reads past it return 0 bytes.</param>
    /// <param name="options">Window and part sizes.</param>
    /// <param name="logger">For request failures.</param>
    /// <param name="caches">Cache tiers to read from and fill, or <c>null</c>; used only when <paramref name="etag"/> is known.</param>
    /// <param name="pool">Where part buffers come from (its budget bounds read-ahead memory); <c>null</c> for <see cref="BufferPool.Shared"/>.</param>
    public Prefetcher(IObjectStore store, Func<string> key, string? etag, long size, ReadAheadOptions options, ILogger? logger = null,
        ReadCaches? caches = null, BufferPool? pool = null)
    {
        _store = store;
        _key = key;
        _etag = etag;
        _size = size;
        _options = options;
        _logger = logger ?? NullLogger.Instance;
        _pool = pool ?? BufferPool.Shared;
        if (caches is not null && etag is not null)
        {
            _caches = caches;
            _version = new ObjectVersion(store.Name, key(), etag, size);
        }
        _window = options.InitialWindowBytes;
        _parallel = new SemaphoreSlim(Math.Max(1, options.MaxParallelParts));
    }

    /// <summary>Range requests started so far (for tests and metrics).</summary>
    public long RequestCount => Interlocked.Read(ref _requests);

    /// <summary>The current read-ahead window in bytes.</summary>
    public long WindowBytes
    {
        get { lock (_lock) return _window; }
    }

    /// <summary>
    /// Starts fetching the first block and returns what the store said about the object in its first answer
    /// (Content-Encoding, ETag, metadata), or <c>null</c> when the block came from a cache. Open uses this to learn
    /// an object's encoding with the request its first read needs anyway.
    /// </summary>
    /// <exception cref="PreconditionFailedException">The object changed since its ETag was learned.</exception>
    public async Task<ObjectInfo?> StartAsync(CancellationToken cancellationToken)
    {
        if (_size == 0) return null;
        List<Part> started;
        lock (_lock) started = Plan(0, 1);
        foreach (var p in started)
        {
            _ = FetchAsync(p);
        }
        return await _firstResponse.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Reads up to <c>destination.Length</c> bytes at <paramref name="offset"/>; returns fewer only at the end of
    /// the object.
    /// </summary>
    /// <exception cref="PreconditionFailedException">The object changed since open.</exception>
    /// <exception cref="ObjectStoreException">The store failed after retries.</exception>
    public async ValueTask<int> ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        using var lease = await LeaseAsync(offset, destination.Length, cancellationToken).ConfigureAwait(false);
        return lease.CopyTo(destination.Span);
    }

    /// <summary>
    /// Reads up to <paramref name="count"/> bytes at <paramref name="offset"/> without copying: the lease holds
    /// slices of the read-ahead parts until it is disposed. Fewer bytes only at the end of the object.
    /// </summary>
    /// <exception cref="PreconditionFailedException">The object changed since open.</exception>
    /// <exception cref="ObjectStoreException">The store failed after retries.</exception>
    public async ValueTask<ReadLease> LeaseAsync(long offset, int count, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed.IsCancellationRequested, this);
        if (offset >= _size || count == 0)
        {
            return ReadLease.Empty;
        }
        int want = (int)Math.Min(count, _size - offset);
        long end = offset + want;
        Part[] covering;
        List<Part> started;
        lock (_lock)
        {
            started = Plan(offset, end);
            covering = _parts.Where(p => p.Start < end && p.End > offset).ToArray();
            foreach (var p in covering)
            {
                p.AddRef();
            }
        }
        // Requests start outside the lock: a store may do real work before its first await.
        foreach (var p in started)
        {
            _ = FetchAsync(p);
        }
        void Release()
        {
            foreach (var p in covering) p.Release();
        }
        try
        {
            var segments = new ArraySegment<byte>[covering.Length];
            for (int i = 0; i < covering.Length; i++)
            {
                var p = covering[i];
                long from = Math.Max(offset, p.Start);
                long to = Math.Min(end, p.End);
                await p.WaitForAsync(to, cancellationToken).ConfigureAwait(false);
                segments[i] = p.Buffer.Slice((int)(from - p.Start), (int)(to - from));
            }
            return new ReadLease(segments, Release);
        }
        catch
        {
            Release();
            throw;
        }
    }

    /// <summary>Decides sequential or random, drops parts and creates new ones. Caller holds <c>_lock</c>.</summary>
    /// <returns>The new parts, for the caller to start once it has let go of the lock.</returns>
    private List<Part> Plan(long offset, long end)
    {
        var started = new List<Part>();
        bool sequential = _parts.Count > 0
            && !_parts.Any(p => p.IsFaulted)
            && offset >= _parts[0].Start
            && offset <= _parts[^1].End + _options.ForwardSeekToleranceBytes;
        if (sequential)
        {
            // Grow once the reader has used half the window, so a short read of a big file fetches little.
            _consumedSinceGrowth += end - offset;
            if (_consumedSinceGrowth >= _window / 2 && _window < _options.MaxWindowBytes)
            {
                _window = Math.Min(_window * 2, _options.MaxWindowBytes);
                _consumedSinceGrowth = 0;
                CloudMountMetrics.PrefetchWindow.Record(_window);
            }
            while (_parts.Count > 0 && _parts[0].End <= offset - _options.KeepBehindBytes)
            {
                _parts[0].Drop();
                _parts.RemoveAt(0);
            }
        }
        else
        {
            foreach (var p in _parts)
            {
                p.Drop();
            }
            _parts.Clear();
            _window = _options.InitialWindowBytes;
            _consumedSinceGrowth = end - offset;
        }

        const long block = ObjectVersion.BlockSize;
        long target = Math.Min(_size, AlignUp(Math.Max(end, offset + _window), block));
        long next = _parts.Count > 0 ? _parts[^1].End : offset / block * block;
        long partBytes = Math.Max(block, _options.PartBytes / block * block);
        long minimum = Math.Min(partBytes, _window);
        // Start parts while the missing tail is at least one part (or reaches the end of the object),
        // and always cover the bytes this read needs. Read-ahead beyond them only while the buffer budget allows.
        while (next < target && (next < end || target - next >= minimum || target == _size))
        {
            long length = Math.Min(partBytes, target - next);
            bool needed = next < end;
            ArraySegment<byte>? buffer = needed ? _pool.Rent((int)length) : _pool.TryRent((int)length);
            if (buffer is not { } segment)
            {
                break; // over budget: read-ahead waits for buffers to come back
            }
            var part = new Part(next, length, segment, _pool, random: !sequential);
            _parts.Add(part);
            started.Add(part);
            Interlocked.Increment(ref _requests);
            next += length;
        }
        return started;
    }

    private static long AlignUp(long value, long alignment) => (value + alignment - 1) / alignment * alignment;

    private async Task FetchAsync(Part part)
    {
        var ct = part.Cancellation.Token;
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
                if (_version is { } v && _caches!.TryRead(v, first + i, part.Buffer.Slice(at, length)))
                {
                    if (first + i == 0) _firstResponse.TrySetResult(null);
                    part.Advance(length);
                    i++;
                    continue;
                }
                // A run of blocks no cache holds: one range request.
                int j = i + 1;
                while (j < blocks && !(_version is { } w && _caches!.Contains(w, first + j))) j++;
                int runEnd = (int)Math.Min(part.Length, (long)j * block);
                await _parallel.WaitAsync(ct).ConfigureAwait(false);
                ObjectInfo served;
                try
                {
                    served = await FetchRangeAsync(part, at, runEnd, ct).ConfigureAwait(false);
                }
                finally
                {
                    _parallel.Release();
                }
                if (_version is { } fetched)
                {
                    // The cache writer holds a reference to the part's buffer until the bytes are on disk.
                    part.AddRef();
                    _caches!.Store(fetched, first + i, part.Buffer.Slice(at, runEnd - at),
                        inMemory: part.Random || _size <= 8 * ObjectVersion.BlockSize, encoding: served.ContentEncoding, release: part.Release);
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
            if (part.Start == 0) _firstResponse.TrySetException(e);
            part.Fail(e);
        }
        finally
        {
            part.FetchFinished();
        }
    }

    /// <summary>Streams bytes [<paramref name="from"/>, <paramref name="to"/>) of the part from the store into its buffer.</summary>
    /// <returns>What the store said about the object.</returns>
    private async Task<ObjectInfo> FetchRangeAsync(Part part, int from, int to, CancellationToken ct)
    {
        string key = _key();
        await using var result = await _store.ReadAsync(key, new ByteRange(part.Start + from, to - from), _etag, ct).ConfigureAwait(false);
        if (_etag is not null && result.Info.ETag is { } got && got != _etag)
        {
            // Some servers ignore If-Match; never hand out bytes of another version.
            throw new PreconditionFailedException(key, _etag);
        }
        if (part.Start + from == 0) _firstResponse.TrySetResult(result.Info);
        int filled = from;
        while (filled < to)
        {
            int chunk = Math.Min(1 << 20, to - filled);
            int n = await result.Content.ReadAsync(part.Buffer.AsMemory(filled, chunk), ct).ConfigureAwait(false);
            if (n == 0)
            {
                throw new InvalidResponseException($"{key}: body ended at byte {part.Start + filled}, expected {part.Start + to}");
            }
            filled += n;
            part.Advance(n);
        }
        return result.Info;
    }

    /// <summary>Cancels requests in flight and returns every buffer to the pool.</summary>
    public async ValueTask DisposeAsync()
    {
        Part[] parts;
        lock (_lock)
        {
            if (_disposed.IsCancellationRequested) return;
            _disposed.Cancel();
            parts = [.. _parts];
            _parts.Clear();
        }
        foreach (var p in parts)
        {
            p.Drop();
        }
        foreach (var p in parts)
        {
            await p.Fetched.ConfigureAwait(false);
        }
    }

    /// <summary>
    /// One range request and its buffer. References: the part list holds one, the fetch holds one until it ends,
    /// each reader copying from it holds one, and the cache writer holds one until the bytes are on disk. The
    /// buffer goes back to the pool when the last is released, which can only be after the fetch has ended.
    /// </summary>
    private sealed class Part(long start, long length, ArraySegment<byte> buffer, BufferPool pool, bool random)
    {
        private readonly Lock _sync = new();
        private TaskCompletionSource _progress = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private Exception? _error;
        private bool _complete;
        private int _refs = 2;   // the part list's and the fetch's
        private int _filled;
        private readonly TaskCompletionSource _fetched = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public CancellationTokenSource Cancellation { get; } = new();

        /// <summary>Completes when the fetch no longer touches the buffer.</summary>
        public Task Fetched => _fetched.Task;

        /// <summary>Called once by the fetch when it ends: drops the fetch's reference.</summary>
        public void FetchFinished()
        {
            _fetched.TrySetResult();
            Release();
        }

        public long Start { get; } = start;
        public long Length { get; } = length;
        public long End => Start + Length;
        public ArraySegment<byte> Buffer { get; } = buffer;
        /// <summary>Fetched for a random read (its blocks are worth keeping in memory).</summary>
        public bool Random { get; } = random;
        public int Filled => Volatile.Read(ref _filled);

        public bool IsFaulted
        {
            get { lock (_sync) return _error is not null; }
        }

        public void Advance(int n)
        {
            TaskCompletionSource done;
            lock (_sync)
            {
                _filled += n;
                done = _progress;
                _progress = new(TaskCreationOptions.RunContinuationsAsynchronously);
            }
            done.TrySetResult();
        }

        public void Complete()
        {
            lock (_sync) _complete = true;
            _progress.TrySetResult();
        }

        public void Fail(Exception e)
        {
            TaskCompletionSource done;
            lock (_sync)
            {
                _error = e;
                done = _progress;
            }
            done.TrySetResult();
        }

        public async ValueTask WaitForAsync(long absoluteEnd, CancellationToken ct)
        {
            while (true)
            {
                Task wait;
                lock (_sync)
                {
                    if (Start + _filled >= absoluteEnd) return;
                    if (_error is not null)
                    {
                        System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(_error);
                    }
                    if (_complete) return;
                    wait = _progress.Task;
                }
                await wait.WaitAsync(ct).ConfigureAwait(false);
            }
        }

        public void AddRef() => Interlocked.Increment(ref _refs);

        public void Release()
        {
            int left = Interlocked.Decrement(ref _refs);
            if (left == 0)
            {
                pool.Return(Buffer);
            }
            System.Diagnostics.Debug.Assert(left >= 0, "part released more often than referenced");
        }

        public void Drop()
        {
            Cancellation.Cancel();
            Release();
        }
    }
}
