using CloudMount.Core.Diagnostics;
using CloudMount.Core.Storage;
using Microsoft.Extensions.Logging;

namespace CloudMount.Core.Writing;

/// <summary>
/// Uploads a staged file as a multipart upload while it is still being written: once the writer is a whole part
/// past a part, that part goes up in the background (at most <c>concurrency</c> at once), so closing a large file
/// only waits for the last parts and the completion. A part written again after its upload is sent again at
/// completion; a truncation drops or resends the parts it cuts. Once the service has given the upload its id,
/// a record <c>ID.upload</c> (<see cref="PendingMultipart"/>) beside the staged file names it until the upload is
/// completed or aborted, so the parts of a mount that died are aborted by the next one.
/// </summary>
/// <remarks>
/// Thread safety: <see cref="OnWrite"/>, <see cref="OnTruncate"/> and <see cref="CompleteAsync"/> are called under
/// the file's write gate; part uploads run concurrently and report back under <c>_lock</c>.
/// </remarks>
public sealed class UploadSession
{
    private readonly IMultipartUploads _multipart;
    private readonly string _key;
    private readonly ObjectWriteOptions _options;
    private readonly string _stagingPath;
    private readonly long _partBytes;
    private readonly SemaphoreSlim _slots;
    private readonly ILogger _logger;
    private readonly string _storeName;
    private readonly Lock _lock = new();
    private readonly Dictionary<int, PartState> _parts = [];   // 0-based; protected by _lock
    private Task<IMultipartUpload>? _upload;                   // protected by _lock
    private long _highWater;

    private sealed class PartState
    {
        public long Version;          // bumped by every write into the part
        public long UploadedVersion = -1;
        public long UploadedLength = -1;
        public Task? Uploading;
    }

    /// <summary>Creates a session; nothing is sent until the first part is ready.</summary>
    /// <param name="multipart">The store's multipart capability (decorated: retried and counted).</param>
    /// <param name="key">The key to write.</param>
    /// <param name="options">Content type and the like.</param>
    /// <param name="stagingPath">The staged file the parts are read from.</param>
    /// <param name="partBytes">Part size in bytes (at least the store's minimum).</param>
    /// <param name="concurrency">Parts uploaded at once.</param>
    /// <param name="logger">For part failures.</param>
    /// <param name="storeName">The store's name, for the upload's record.</param>
    public UploadSession(IMultipartUploads multipart, string key, ObjectWriteOptions options, string stagingPath, long partBytes, int concurrency, ILogger logger, string storeName)
    {
        _storeName = storeName;
        _multipart = multipart;
        _key = key;
        _options = options;
        _stagingPath = stagingPath;
        _partBytes = Math.Max(partBytes, multipart.MinPartBytes);
        _slots = new SemaphoreSlim(Math.Max(1, concurrency));
        _logger = logger;
    }

    /// <summary>The key this session writes (fixed when it started).</summary>
    public string Key => _key;

    /// <summary>What the upload was started with (its metadata is fixed from then on).</summary>
    public ObjectWriteOptions Options => _options;

    /// <summary>Where the upload's record is while it runs.</summary>
    public string RecordPath => Path.ChangeExtension(_stagingPath, ".upload");

    private int _partsStarted;

    /// <summary>Part uploads started so far, in the background or at completion (for tests and logs).</summary>
    public int PartsStarted => Volatile.Read(ref _partsStarted);

    /// <summary>Records a write of <paramref name="length"/> bytes at <paramref name="offset"/> and starts parts that are ready.</summary>
    public void OnWrite(long offset, long length, long fileLength)
    {
        lock (_lock)
        {
            for (long p = offset / _partBytes; p * _partBytes < offset + length; p++)
            {
                State((int)p).Version++;
            }
            _highWater = Math.Max(_highWater, offset + length);
            // A part is ready when it is whole and the writer has moved a whole part beyond it.
            for (int p = 0; (p + 2) * _partBytes <= _highWater && (p + 1) * _partBytes <= fileLength; p++)
            {
                var s = State(p);
                if (s.Uploading is null or { IsCompleted: true } && s.UploadedVersion != s.Version)
                {
                    s.Uploading = UploadPartAsync(p, s, _partBytes);
                }
            }
        }
    }

    /// <summary>Records a truncation to <paramref name="length"/> bytes.</summary>
    public void OnTruncate(long length)
    {
        lock (_lock)
        {
            _highWater = Math.Min(_highWater, length);
            long last = length == 0 ? -1 : (length - 1) / _partBytes;
            foreach (var (p, s) in _parts)
            {
                if (p >= last) s.Version++; // the cut part changes length; parts beyond it are left out at completion
            }
        }
    }

    private PartState State(int p)
    {
        if (!_parts.TryGetValue(p, out var s))
        {
            s = new PartState();
            _parts[p] = s;
        }
        return s;
    }

    private Task<IMultipartUpload> Upload()
    {
        lock (_lock)
        {
            return _upload ??= StartAsync();
        }
    }

    private async Task<IMultipartUpload> StartAsync()
    {
        // Recorded before it is asked for (the service names it only in its answer), so an upload started by a
        // mount that dies at any moment is found again.
        var started = DateTimeOffset.UtcNow;
        await WriteRecordAsync(new PendingMultipart(_storeName, _key, "", started)).ConfigureAwait(false);
        var upload = await _multipart.StartAsync(_key, _options, CancellationToken.None).ConfigureAwait(false);
        if (upload.Id.Length > 0) await WriteRecordAsync(new PendingMultipart(_storeName, _key, upload.Id, started)).ConfigureAwait(false);
        else DeleteRecord();
        return upload;
    }

    private async Task WriteRecordAsync(PendingMultipart record)
    {
        try
        {
            string temp = RecordPath + ".tmp";
            await File.WriteAllTextAsync(temp, System.Text.Json.JsonSerializer.Serialize(record, StagingJson.Default.PendingMultipart)).ConfigureAwait(false);
            File.Move(temp, RecordPath, overwrite: true);
        }
        catch (IOException e)
        {
            _logger.LogWarning("cannot record the multipart upload of {Key} ({Error}); if this mount dies, its parts stay on the service", _key, e.Message);
        }
    }

    private void DeleteRecord()
    {
        try
        {
            File.Delete(RecordPath);
        }
        catch (IOException)
        {
            // Recovery finds the upload already gone.
        }
    }

    private async Task UploadPartAsync(int p, PartState s, long length)
    {
        long version;
        lock (_lock) version = s.Version;
        Interlocked.Increment(ref _partsStarted);
        await _slots.WaitAsync().ConfigureAwait(false);
        using var counted = CloudMountMetrics.UploadStarted();
        try
        {
            var upload = await Upload().ConfigureAwait(false);
            await upload.UploadPartAsync(p + 1, ObjectContent.FromFile(_stagingPath, p * _partBytes, length), CancellationToken.None).ConfigureAwait(false);
            lock (_lock)
            {
                s.UploadedVersion = version;
                s.UploadedLength = length;
            }
        }
        catch (Exception e)
        {
            // Not fatal yet: the part is sent again at completion.
            _logger.LogWarning("background upload of part {Part} of {Key} failed: {Error}", p + 1, _key, e.Message);
        }
        finally
        {
            // A task that finished synchronously is assigned after this runs; both cases read as "not uploading".
            lock (_lock) s.Uploading = null;
            _slots.Release();
        }
    }

    /// <summary>
    /// Sends what is missing and completes the upload: the object becomes the staged file's
    /// <paramref name="fileLength"/> bytes, atomically.
    /// </summary>
    /// <exception cref="ObjectStoreException">A part or the completion failed (after retries); the upload is aborted.</exception>
    public async Task<ObjectInfo> CompleteAsync(long fileLength, CancellationToken cancellationToken)
    {
        int needed = (int)Math.Max(1, (fileLength + _partBytes - 1) / _partBytes);
        try
        {
            if (needed > _multipart.MaxParts)
            {
                throw new InvalidOperationException($"{_key} needs {needed} parts of {_partBytes} bytes, more than {_multipart.MaxParts}");
            }
            while (true)
            {
                Task[] running;
                lock (_lock) running = _parts.Values.Select(s => s.Uploading).OfType<Task>().Where(t => !t.IsCompleted).ToArray();
                if (running.Length == 0) break;
                await Task.WhenAll(running).ConfigureAwait(false);
            }
            var sends = new List<Task>();
            lock (_lock)
            {
                for (int p = 0; p < needed; p++)
                {
                    long length = Math.Min(_partBytes, fileLength - p * _partBytes);
                    var s = State(p);
                    if (s.UploadedVersion != s.Version || s.UploadedLength != length)
                    {
                        s.Uploading = UploadPartAsync(p, s, length);
                        sends.Add(s.Uploading);
                    }
                }
            }
            await Task.WhenAll(sends).ConfigureAwait(false);
            lock (_lock)
            {
                for (int p = 0; p < needed; p++)
                {
                    long length = Math.Min(_partBytes, fileLength - p * _partBytes);
                    var s = State(p);
                    if (s.UploadedVersion != s.Version || s.UploadedLength != length)
                    {
                        throw new ObjectStoreException($"part {p + 1} of {_key} could not be uploaded");
                    }
                }
            }
            var upload = await Upload().ConfigureAwait(false);
            var info = await upload.CompleteAsync(needed, fileLength, cancellationToken).ConfigureAwait(false);
            DeleteRecord();
            return info;
        }
        catch
        {
            await AbortAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Discards the upload (if one was started) and its parts.</summary>
    public async Task AbortAsync()
    {
        Task<IMultipartUpload>? started;
        lock (_lock) started = _upload;
        if (started is null) return;
        try
        {
            var upload = await started.ConfigureAwait(false);
            await upload.AbortAsync(CancellationToken.None).ConfigureAwait(false);
            DeleteRecord();
        }
        catch (Exception e)
        {
            _logger.LogDebug("abort of the upload of {Key}: {Error}", _key, e.Message);
        }
    }
}
