using System.Globalization;
using CloudMount.Core.Caching;
using CloudMount.Core.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CloudMount.Core.Codecs;

/// <summary>
/// The decoded copies of encoded objects in <c>DIR/ID.data</c> (ID as <see cref="ObjectVersion.Id"/>), one per
/// object version, shared by every reader. Finished copies (<c>ID.done</c>) are reused after a remount; copies
/// no reader uses are deleted, least recently used first, beyond <see cref="CapacityBytes"/>.
/// </summary>
/// <remarks>
/// Bounds: <c>_copies</c> holds a copy (and its open descriptor) only while a reader holds it or its pass runs;
/// a finished copy nobody reads is closed and forgotten (a later open finds it by its <c>.done</c> file), so the
/// table and the descriptors are bounded by the open files and the passes running, not by the objects ever read.
/// <c>_passes</c> holds only passes still running. The folder is bounded by <see cref="CapacityBytes"/>.
/// <c>_lock</c> guards both collections and every copy's user count.
/// </remarks>
public sealed class DecodedCopies : IAsyncDisposable
{
    private readonly IObjectStore _raw;
    private readonly string _directory;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, DecodedCopy> _copies = [];   // by version id; protected by _lock; bound above
    private readonly List<Task> _passes = [];                        // running passes; protected by _lock
    private readonly CancellationTokenSource _stopping = new();
    private readonly Reading.ReadAheadOptions? _readAhead;

    /// <summary>Creates the manager.</summary>
    /// <param name="raw">The store below decoding (its reads return stored bytes).</param>
    /// <param name="directory">Where the copies live; created if missing.</param>
    /// <param name="capacityBytes">Size beyond which unused copies are deleted.</param>
    /// <param name="logger">For decode failures.</param>
    /// <param name="readAhead">How the pass reads the stored bytes: parallel range requests ahead of the decoder
    /// (<see cref="Reading.Prefetcher"/>); <c>null</c> for one GET.</param>
    public DecodedCopies(IObjectStore raw, string directory, long capacityBytes, ILogger? logger = null, Reading.ReadAheadOptions? readAhead = null)
    {
        _readAhead = readAhead;
        _raw = raw;
        _directory = directory;
        CapacityBytes = capacityBytes;
        _logger = logger ?? NullLogger.Instance;
        Directory.CreateDirectory(directory);
    }

    /// <summary>Size in bytes beyond which copies no reader uses are deleted.</summary>
    public long CapacityBytes { get; }

    /// <summary>
    /// The decoded copy of an encoded object version: an existing one, a finished one from an earlier mount, or a
    /// new one whose pass starts now. The caller holds it until <see cref="Release"/>.
    /// </summary>
    /// <param name="stored">The object as stored: key, ETag, size, Content-Encoding and metadata.</param>
    public DecodedCopy Acquire(ObjectInfo stored)
    {
        var codec = ContentCodec.Parse(stored.ContentEncoding);
        string etag = stored.ETag ?? throw new InvalidOperationException($"{stored.Key} has no ETag to pin its decoding to");
        var version = new ObjectVersion(_raw.Name, stored.Key, etag, stored.Size);
        DecodedCopy copy;
        lock (_lock)
        {
            if (!_copies.TryGetValue(version.Id, out copy!))
            {
                string path = Path.Combine(_directory, version.Id + ".data");
                string done = Path.ChangeExtension(path, ".done");
                long? complete = null;
                if (File.Exists(done) && File.Exists(path)
                    && long.TryParse(File.ReadAllText(done), NumberStyles.None, CultureInfo.InvariantCulture, out long size)
                    && new FileInfo(path).Length == size)
                {
                    complete = size;
                }
                else
                {
                    File.Delete(done);
                }
                var handle = File.OpenHandle(path, complete is null ? FileMode.Create : FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
                copy = new DecodedCopy(stored.Key, etag, codec, path, handle, complete) { StoredSize = stored.Size };
                _copies[version.Id] = copy;
                // The caller's hold is counted before the pass starts: a pass may finish before it returns.
                copy.AddUser();
                if (complete is null)
                {
                    _passes.RemoveAll(t => t.IsCompleted);
                    _passes.Add(copy.RunAsync(_raw, stored, _readAhead, _logger, _stopping.Token));
                    _ = ProbeSizeAsync(copy, stored);
                    string id = version.Id;
                    var running = copy;
                    // A pass that ends with no reader left closes its copy (a failed one is tried again by the next open).
                    _ = copy.Completion.ContinueWith(_ => Forget(id, running), CancellationToken.None,
                        TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                }
            }
            else
            {
                copy.AddUser();
            }
            File.SetLastWriteTimeUtc(copy.Path, DateTime.UtcNow);
        }
        return copy;
    }

    /// <summary>Gives up a reader's hold on a copy, and trims the folder to its capacity.</summary>
    public void Release(DecodedCopy copy)
    {
        lock (_lock)
        {
            copy.RemoveUser();
        }
        Forget(new ObjectVersion(_raw.Name, copy.Key, copy.ETag, copy.StoredSize).Id, copy);
        Trim();
    }

    /// <summary>Closes and forgets a copy no reader holds once its pass has ended.</summary>
    private void Forget(string id, DecodedCopy copy)
    {
        lock (_lock)
        {
            if (copy.Users > 0 || !copy.Completion.IsCompleted) return;
            if (_copies.TryGetValue(id, out var c) && c == copy) _copies.Remove(id);
            copy.Close();
        }
    }

    /// <summary>Copies held now (open by a reader or being decoded), for tests.</summary>
    public int HeldCount
    {
        get { lock (_lock) return _copies.Count; }
    }

    /// <summary>Finds the decoded size without decoding (<see cref="DecodedSizeProbe"/>); the pass itself reads a zstd header.</summary>
    private async Task ProbeSizeAsync(DecodedCopy copy, ObjectInfo stored)
    {
        try
        {
            long? size = await DecodedSizeProbe.ProbeAsync(_raw, stored, readZstdHeader: false, CancellationToken.None).ConfigureAwait(false);
            if (size is not null || copy.Codec != Codec.Zstd) copy.SetSizeHint(size);
        }
        catch (Exception e) when (e is ObjectStoreException or IOException)
        {
            _logger.LogDebug("size probe of {Key}: {Error}", stored.Key, e.Message);
            copy.SetSizeHint(null);
        }
    }

    private void Trim()
    {
        lock (_lock)
        {
            var files = new DirectoryInfo(_directory).GetFiles("*.data").OrderBy(f => f.LastWriteTimeUtc).ToList();
            long total = files.Sum(f => f.Length);
            foreach (var f in files)
            {
                if (total <= CapacityBytes) break;
                string id = Path.GetFileNameWithoutExtension(f.Name);
                if (_copies.TryGetValue(id, out var c))
                {
                    if (c.Users > 0 || !c.Completion.IsCompleted) continue;
                    c.Close();
                    _copies.Remove(id);
                }
                total -= f.Length;
                f.Delete();
                File.Delete(Path.ChangeExtension(f.FullName, ".done"));
            }
        }
    }

    /// <summary>Stops running passes and closes the copies (finished ones stay for the next mount).</summary>
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        Task[] passes;
        lock (_lock) passes = [.. _passes];
        try
        {
            await Task.WhenAll(passes).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Failures were logged by the passes.
        }
        lock (_lock)
        {
            foreach (var c in _copies.Values) c.Close();
            _copies.Clear();
        }
        Trim();
    }
}
