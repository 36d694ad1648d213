using CloudMount.Core.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace CloudMount.Core.Codecs;

/// <summary>
/// The decoded bytes of one encoded object version, written to a local file by one background pass over the
/// object (a single GET through the decoder). Sequential readers follow the pass as it goes; random readers wait
/// for it to reach their offset, then read the file, so no read ever decodes from the start again.
/// A finished copy is marked <c>ID.done</c> (holding the decoded size) and reused by later mounts.
/// </summary>
/// <remarks>
/// A corrupt or truncated object makes the pass fail: every waiting and later read throws an
/// <see cref="IOException"/> naming the key (EIO), and the failure is logged, never served as short data.
/// Thread safety: progress fields are guarded by <c>_lock</c>; reads of the file need no lock.
/// </remarks>
public sealed class DecodedCopy
{
    private readonly Lock _lock = new();
    private readonly SafeFileHandle _file;
    private readonly TaskCompletionSource<long> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<long?> _sizeHint = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _progress = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _decoded;
    private int _users;

    internal DecodedCopy(string key, string etag, Codec codec, string path, SafeFileHandle file, long? completeSize)
    {
        Key = key;
        ETag = etag;
        Codec = codec;
        Path = path;
        _file = file;
        if (completeSize is { } size)
        {
            _decoded = size;
            _done.SetResult(size);
            _sizeHint.SetResult(size);
        }
    }

    /// <summary>The object's key.</summary>
    public string Key { get; }

    /// <summary>The version decoded.</summary>
    public string ETag { get; }

    /// <summary>Its encoding.</summary>
    public Codec Codec { get; }

    /// <summary>The stored (encoded) object's size in bytes.</summary>
    public long StoredSize { get; init; }

    /// <summary>The local file of decoded bytes.</summary>
    public string Path { get; }

    /// <summary>Completes with the decoded size when the pass has finished; faults if it failed.</summary>
    public Task<long> Completion => _done.Task;

    /// <summary>
    /// Completes with the decoded size as soon as it can be known without decoding everything (stored metadata,
    /// the zstd frame header, the gzip trailer), or <c>null</c> when it cannot (brotli without metadata).
    /// </summary>
    public Task<long?> SizeHint => _sizeHint.Task;

    /// <summary>Decoded bytes available so far.</summary>
    public long Decoded
    {
        get { lock (_lock) return _decoded; }
    }

    internal int Users => Volatile.Read(ref _users);

    internal void AddUser() => Interlocked.Increment(ref _users);

    internal void RemoveUser() => Interlocked.Decrement(ref _users);

    /// <summary>Waits until the bytes before <paramref name="end"/> are decoded, or the pass has ended.</summary>
    /// <exception cref="IOException">The object is corrupt or truncated, or could not be read.</exception>
    public async ValueTask WaitForAsync(long end, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task wait;
            lock (_lock)
            {
                if (_decoded >= end || _done.Task.IsCompletedSuccessfully) return;
                if (_done.Task.IsFaulted) throw _done.Task.Exception!.InnerException!;
                wait = _progress.Task;
            }
            await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Reads decoded bytes at <paramref name="offset"/> (after <see cref="WaitForAsync"/>); 0 at the end.</summary>
    public int Read(long offset, Span<byte> destination)
    {
        long available = Decoded;
        if (offset >= available) return 0;
        int want = (int)Math.Min(destination.Length, available - offset);
        int total = 0;
        while (total < want)
        {
            int n = RandomAccess.Read(_file, destination[total..want], offset + total);
            if (n == 0) break;
            total += n;
        }
        return total;
    }

    internal void SetSizeHint(long? size) => _sizeHint.TrySetResult(size);

    /// <summary>The background pass: GET, decode, append to the file.</summary>
    internal async Task RunAsync(IObjectStore raw, ObjectInfo stored, Reading.ReadAheadOptions? readAhead, ILogger logger, CancellationToken ct)
    {
        var buffer = BufferPool.Shared.Rent(1 << 20);
        try
        {
            // Parallel range reads ahead of the decoder where the size is known; else one GET.
            Stream source = readAhead is not null && stored.Size > 0
                ? new Reading.PrefetchedStream(new Reading.Prefetcher(raw, () => Key, ETag, stored.Size, readAhead, logger))
                : (await raw.ReadAsync(Key, ByteRange.All, ETag, ct).ConfigureAwait(false)).Content;
            var peek = new HeaderCapture(source, 32, header =>
            {
                // Without a content size in the frame header, the size is unknown until the pass ends.
                if (Codec == Codec.Zstd) SetSizeHint(ContentCodec.TryZstdContentSize(header, out long size) ? size : null);
            });
            await using var decoder = ContentCodec.OpenDecoder(Codec, peek);
            long at = 0;
            int n;
            while ((n = await decoder.ReadAsync(buffer.AsMemory(), ct).ConfigureAwait(false)) > 0)
            {
                RandomAccess.Write(_file, buffer.AsSpan(0, n), at);
                at += n;
                TaskCompletionSource signal;
                lock (_lock)
                {
                    _decoded = at;
                    signal = _progress;
                    _progress = new(TaskCreationOptions.RunContinuationsAsynchronously);
                }
                signal.TrySetResult();
            }
            if (peek.Total != stored.Size)
            {
                throw new InvalidDataException($"the body held {peek.Total} of {stored.Size} stored bytes");
            }
            RandomAccess.FlushToDisk(_file);
            File.WriteAllText(System.IO.Path.ChangeExtension(Path, ".done"), at.ToString(System.Globalization.CultureInfo.InvariantCulture));
            SetSizeHint(at);
            _done.TrySetResult(at);
        }
        catch (Exception e)
        {
            var error = new IOException($"cannot decode {ContentCodec.HeaderValue(Codec)} object {Key}: {e.Message}", e);
            if (!ct.IsCancellationRequested) logger.LogError("{Error}", error.Message);
            SetSizeHint(null);
            _done.TrySetException(error);
        }
        finally
        {
            BufferPool.Shared.Return(buffer);
            TaskCompletionSource signal;
            lock (_lock) signal = _progress;
            signal.TrySetResult();
        }
    }

    internal void Close() => _file.Dispose();

    /// <summary>Passes bytes through, handing the first <c>count</c> to a callback once, and counts them all.</summary>
    private sealed class HeaderCapture(Stream inner, int count, Action<ReadOnlySpan<byte>> onHeader) : ReadOnlyStreamBase
    {
        private readonly byte[] _header = new byte[count];
        private int _have;
        private bool _reported;

        public long Total { get; private set; }

        protected override async ValueTask<int> ReadCoreAsync(Memory<byte> buffer, CancellationToken cancellationToken)
        {
            int n = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            if (!_reported)
            {
                int take = Math.Min(n, _header.Length - _have);
                buffer.Span[..take].CopyTo(_header.AsSpan(_have));
                _have += take;
                if (_have == _header.Length || n == 0)
                {
                    _reported = true;
                    onHeader(_header.AsSpan(0, _have));
                }
            }
            Total += n;
            return n;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }
    }
}
