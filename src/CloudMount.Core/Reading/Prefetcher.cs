using CloudMount.Core.Caching;
using CloudMount.Core.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CloudMount.Core.Reading;

/// <summary>
/// Serves the reads of one open file (the read source of a handle): from the blocks of its object version that
/// any reader of the mount is fetching or holding, from the caches, or from range requests that run ahead of the
/// reader; a <c>file://</c> store's file is read directly instead.
/// </summary>
/// <remarks>
/// <para>Algorithm (after mountpoint-s3's prefetcher, with blocks shared between readers): the object's
/// aligned blocks (<see cref="ObjectVersion.BlockSize"/>) live in a <see cref="BlockTable"/> shared by every open
/// file of the same version in the mount (through <see cref="ReadCaches"/>), so a block is fetched once however many
/// readers want it, and is never cancelled while one of them may still want it. Each open file keeps up to
/// <see cref="ReadStreams.MaxStreams"/> streams: a sequential one has a window that doubles from
/// <see cref="ReadAheadOptions.InitialWindowBytes"/> to <see cref="ReadAheadOptions.MaxWindowBytes"/>, fetched as
/// parallel requests of up to <see cref="ReadAheadOptions.PartBytes"/>; a random read fetches only the blocks it
/// needs. Readers wait only for the bytes they need, so the first byte arrives after one round trip.</para>
/// <para>Every request names the ETag seen at open (If-Match), and an answer with another ETag is refused, so
/// bytes of two versions are never mixed: the read fails with <see cref="PreconditionFailedException"/>.</para>
/// <para>Thread safety: reads may arrive concurrently and out of order (the kernel's async read-ahead); the
/// table's lock guards the streams and the parts' counts, each part guards its own fill state.</para>
/// </remarks>
public sealed class Prefetcher : IAsyncDisposable
{
    private readonly BlockTable? _table;
    private readonly ReadStreams? _streams;
    private readonly LocalFileReader? _local;
    private readonly Action? _unregister;
    private readonly long _size;
    private readonly BufferPool _pool;
    private int _disposed;

    /// <summary>Creates the read source of one open file.</summary>
    /// <param name="store">Where the bytes come from.</param>
    /// <param name="key">Gives the object's current key (it may change through a rename while the file is open).</param>
    /// <param name="etag">The ETag seen at open, pinned for every request; <c>null</c> when the store gives none.</param>
    /// <param name="size">The object's size in bytes at open; reads past it return 0 bytes.</param>
    /// <param name="options">Window and part sizes.</param>
    /// <param name="logger">For request failures.</param>
    /// <param name="caches">Cache tiers to read from and fill, and the mount's shared block tables, or <c>null</c>;
    /// used only when <paramref name="etag"/> is known.</param>
    /// <param name="pool">Where part buffers come from (its budget bounds read-ahead memory); <c>null</c> for <see cref="BufferPool.Shared"/>.</param>
    public Prefetcher(IObjectStore store, Func<string> key, string? etag, long size, ReadAheadOptions options, ILogger? logger = null,
        ReadCaches? caches = null, BufferPool? pool = null)
    {
        _size = size;
        logger ??= NullLogger.Instance;
        pool ??= BufferPool.Shared;
        _pool = pool;
        if (Storage.LocalFs.LocalFsObjectStore.Find(store.Name) is { } local)
        {
            // A local file is read where it is: caching it again would only copy it.
            _local = new LocalFileReader(local, key, etag, size, pool);
            return;
        }
        if (caches is not null && etag is not null)
        {
            var shared = SharedBlockTables.For(caches);
            var version = new ObjectVersion(store.Name, key(), etag, size);
            _table = shared.Acquire(version, () => new BlockTable(store, key, etag, size, options, logger, caches, pool));
            _unregister = () => shared.Release(version, _table);
        }
        else
        {
            _table = new BlockTable(store, key, etag, size, options, logger, caches, pool);
        }
        _streams = new ReadStreams(_table);
    }

    /// <summary>Range requests started for this object version so far (for tests and metrics).</summary>
    public long RequestCount => _table?.RequestCount ?? 0;

    /// <summary>The read-ahead window of the stream read last, in bytes (0 after a random read).</summary>
    public long WindowBytes
    {
        get
        {
            if (_table is null) return 0;
            lock (_table.Lock) return _streams!.LastWindowLocked;
        }
    }

    /// <summary>
    /// Starts fetching the first block and returns what the store said about the object in its first answer
    /// (Content-Encoding, ETag, metadata), or <c>null</c> when the block came from a cache or a local file. Open
    /// uses this to learn an object's encoding with the request its first read needs anyway.
    /// </summary>
    /// <exception cref="PreconditionFailedException">The object changed since its ETag was learned.</exception>
    public async Task<ObjectInfo?> StartAsync(CancellationToken cancellationToken)
    {
        if (_size == 0 || _table is null) return null;
        // The first read of a file starts at 0: plan it now, so its request is in flight before the kernel asks.
        var covering = new List<Part>();
        var started = new List<Part>();
        var released = new List<Part>();
        Task<ObjectInfo?> first;
        lock (_table.Lock)
        {
            first = _table.FirstResponse;
            _streams!.PlanLocked(0, Math.Min(_size, ObjectVersion.BlockSize), covering, started, released);
        }
        _table.Start(started);
        _table.Release(covering);
        return await first.WaitAsync(cancellationToken).ConfigureAwait(false);
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
    /// slices of the shared parts until it is disposed. Fewer bytes only at the end of the object.
    /// </summary>
    /// <exception cref="PreconditionFailedException">The object changed since open.</exception>
    /// <exception cref="ObjectStoreException">The store failed after retries.</exception>
    /// <exception cref="ObjectDisposedException">The file was closed.</exception>
    public async ValueTask<ReadLease> LeaseAsync(long offset, int count, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (offset >= _size || count <= 0)
        {
            return ReadLease.Empty;
        }
        if (_local is not null)
        {
            return await _local.LeaseAsync(offset, count, cancellationToken).ConfigureAwait(false);
        }
        var table = _table!;
        int want = (int)Math.Min(count, _size - offset);
        long end = offset + want;
        var covering = new List<Part>();
        var started = new List<Part>();
        var released = new List<Part>();
        bool fromCaches;
        lock (table.Lock)
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            fromCaches = table.HasCaches && _streams!.TryRandomOutsideTableLocked(offset, end, released);
            if (!fromCaches) _streams!.PlanLocked(offset, end, covering, started, released);
        }
        if (fromCaches)
        {
            // A random read of blocks the caches hold: the disk tier's file range itself (spliced by a FUSE reply),
            // else a copy of exactly its bytes, not whole blocks into a part.
            if (table.TryLeaseCachedFile(offset, want) is { } file) return file;
            var buffer = _pool.Rent(want);
            if (table.TryReadCached(offset, buffer.AsSpan(0, want)))
            {
                var pool = _pool;
                return new ReadLease([buffer.Slice(0, want)], () => pool.Return(buffer));
            }
            _pool.Return(buffer);
            lock (table.Lock) _streams!.AcquireRandomLocked(offset, end, covering, started);
        }
        // Requests start outside the lock: a store may do real work before its first await.
        table.Start(started);
        try
        {
            var segments = new ArraySegment<byte>[covering.Count];
            for (int i = 0; i < covering.Count; i++)
            {
                var p = covering[i];
                long from = Math.Max(offset, p.Start);
                long to = Math.Min(end, p.End);
                await p.WaitForAsync(to, cancellationToken).ConfigureAwait(false);
                segments[i] = p.Buffer.Slice((int)(from - p.Start), (int)(to - from));
            }
            return new ReadLease(segments, () => table.Release(covering));
        }
        catch
        {
            table.Release(covering);
            throw;
        }
    }

    /// <summary>Drops this file's streams (fills no other reader wants are cancelled) and waits for those fills to stop.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        if (_local is not null)
        {
            _local.Dispose();
            return;
        }
        var released = new List<Part>();
        lock (_table!.Lock) _streams!.DropAllLocked(released);
        _unregister?.Invoke();
        foreach (var p in released)
        {
            await p.Fetched.ConfigureAwait(false);
        }
    }
}
