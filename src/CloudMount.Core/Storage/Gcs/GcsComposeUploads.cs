using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;

namespace CloudMount.Core.Storage.Gcs;

/// <summary>
/// The mount's streaming uploads on GCS, whose JSON API has no multipart upload of parts: each part is uploaded as
/// a temporary object under <c>.cloudmount-parts/UPLOAD/</c>, and completing composes them into the object
/// (objects.compose takes up to 32 sources, so larger uploads compose in two rounds), then deletes the temporary
/// objects. Until then the object itself does not change. Aborting deletes the parts. Completing again after a failure
/// (the retry decorator does) skips the composes already done.
/// </summary>
/// <remarks>
/// A server without objects.compose (firebase-tools' emulator answers 501) is noticed at the first completion, said so
/// in a debug line, and from then on the parts are only noted (no request) and completing sends their concatenation,
/// read from the staged file, as one upload of the whole object, which every server has.
/// </remarks>
internal sealed class GcsComposeUploads(GcsObjectStore store, ILogger logger) : IMultipartUploads
{
    /// <summary>Sources per objects.compose call (Google's documented limit).</summary>
    public const int ComposeLimit = 32;

    /// <summary>The folder temporary parts live in.</summary>
    public const string PartsFolder = ".cloudmount-parts/";

    /// <summary>0 unknown, 1 compose works, 2 the server has none.</summary>
    private int _compose;

    private bool NoCompose => Volatile.Read(ref _compose) == 2;

    public long MinPartBytes => 1;

    /// <summary>Two rounds of 32.</summary>
    public int MaxParts => ComposeLimit * ComposeLimit;

    public Task<IMultipartUpload> StartAsync(string key, ObjectWriteOptions options, CancellationToken cancellationToken) =>
        Task.FromResult<IMultipartUpload>(new Upload(this, key, options, Guid.NewGuid().ToString("n")[..16]));

    private sealed class Upload(GcsComposeUploads owner, string key, ObjectWriteOptions options, string id) : IMultipartUpload
    {
        private readonly ConcurrentDictionary<string, bool> _temporary = new();
        private readonly ConcurrentDictionary<int, ObjectContent> _contents = new();
        private readonly ConcurrentDictionary<int, bool> _intermediate = new();
        private ObjectInfo? _done;

        private GcsObjectStore Store => owner._store;

        public string Key => key;

        private string Part(int n) => $"{PartsFolder}{id}/{n:D5}";

        public async Task UploadPartAsync(int partNumber, ObjectContent content, CancellationToken cancellationToken)
        {
            _contents[partNumber] = content;
            if (owner.NoCompose) return;
            _temporary[Part(partNumber)] = true;
            var (md5, _) = await ContentHasher.HashAsync(content, md5: true, cancellationToken).ConfigureAwait(false);
            await Store.WriteAsync(Part(partNumber), content, new ObjectWriteOptions { ContentMd5 = Convert.FromHexString(md5!) }, cancellationToken).ConfigureAwait(false);
        }

        public async Task<ObjectInfo> CompleteAsync(int parts, long totalBytes, CancellationToken cancellationToken)
        {
            if (_done is null)
            {
                if (!owner.NoCompose)
                {
                    try
                    {
                        _done = await ComposeAllAsync(parts, cancellationToken).ConfigureAwait(false);
                        Volatile.Write(ref owner._compose, 1);
                    }
                    catch (InvalidResponseException e) when (e.Message.Contains(" 501 ", StringComparison.Ordinal) && Volatile.Read(ref owner._compose) != 1)
                    {
                        Volatile.Write(ref owner._compose, 2);
                        owner._logger.LogDebug("{Store}: the server has no objects.compose ({Error}; firebase-tools' emulator has none): large files go up whole at close instead of in composed parts", Store.Name, e.Message);
                    }
                }
                if (_done is null)
                {
                    var whole = new ConcatContent(Enumerable.Range(1, parts).Select(p => _contents.TryGetValue(p, out var c) ? c
                        : throw new InvalidOperationException($"part {p} of {key} was never uploaded")).ToList());
                    Store.InnerRequest?.Invoke(Decorators.RequestKind.Put);
                    _done = await Store.WriteAsync(key, whole, options, cancellationToken).ConfigureAwait(false);
                }
            }
            try
            {
                await AbortAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is ObjectStoreException or OperationCanceledException)
            {
                owner._logger.LogWarning("{Store}: temporary parts of {Key} under {Folder}{Id}/ were not all deleted: {Error}", Store.Name, key, PartsFolder, id, e.Message);
            }
            return _done;
        }

        private async Task<ObjectInfo> ComposeAllAsync(int parts, CancellationToken cancellationToken)
        {
            var sources = Enumerable.Range(1, parts).Select(Part).ToList();
            // First round: groups of 32 into intermediate objects, when there are more than 32 parts.
            if (sources.Count > ComposeLimit)
            {
                var groups = sources.Chunk(ComposeLimit).ToList();
                var intermediate = Enumerable.Range(0, groups.Count).Select(i => $"{PartsFolder}{id}/c{i:D3}").ToArray();
                await Parallel.ForEachAsync(Enumerable.Range(0, groups.Count), cancellationToken, async (i, ct) =>
                {
                    if (_intermediate.ContainsKey(i)) return;
                    _temporary[intermediate[i]] = true;
                    await Store.ComposeAsync(groups[i], intermediate[i], ObjectWriteOptions.Default, ct).ConfigureAwait(false);
                    _intermediate[i] = true;
                }).ConfigureAwait(false);
                sources = [.. intermediate];
            }
            return await Store.ComposeAsync(sources, key, options, cancellationToken).ConfigureAwait(false);
        }

        public async Task AbortAsync(CancellationToken cancellationToken)
        {
            await Parallel.ForEachAsync(_temporary.Keys, cancellationToken, async (k, ct) =>
            {
                Store.InnerRequest?.Invoke(Decorators.RequestKind.Delete);
                await Store.DeleteAsync(k, ct).ConfigureAwait(false);
                _temporary.TryRemove(k, out _);
            }).ConfigureAwait(false);
        }
    }

    private readonly GcsObjectStore _store = store;
    private readonly ILogger _logger = logger;

    /// <summary>Parts end to end, read at upload time (from the staged file they are slices of).</summary>
    private sealed class ConcatContent(IReadOnlyList<ObjectContent> parts) : ObjectContent
    {
        public override long Length { get; } = parts.Sum(p => p.Length);

        public override Stream OpenRead(long offset, long count)
        {
            CheckRange(offset, count);
            return new ConcatStream(parts, offset, count);
        }
    }

    private sealed class ConcatStream(IReadOnlyList<ObjectContent> parts, long offset, long count) : ReadOnlyStreamBase
    {
        private int _part = -1;
        private long _left = count;
        private long _skip = offset;
        private Stream? _current;

        protected override async ValueTask<int> ReadCoreAsync(Memory<byte> buffer, CancellationToken cancellationToken)
        {
            while (_left > 0)
            {
                if (_current is null)
                {
                    if (++_part >= parts.Count) return 0;
                    var p = parts[_part];
                    if (_skip >= p.Length)
                    {
                        _skip -= p.Length;
                        continue;
                    }
                    _current = p.OpenRead(_skip, Math.Min(p.Length - _skip, _left));
                    _skip = 0;
                }
                int n = await _current.ReadAsync(buffer[..(int)Math.Min(buffer.Length, _left)], cancellationToken).ConfigureAwait(false);
                if (n > 0)
                {
                    _left -= n;
                    return n;
                }
                await _current.DisposeAsync().ConfigureAwait(false);
                _current = null;
            }
            return 0;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) _current?.Dispose();
            base.Dispose(disposing);
        }
    }
}

public sealed partial class GcsObjectStore : IReportsInnerRequests
{
    /// <inheritdoc/>
    public Action<Decorators.RequestKind>? InnerRequest { get; set; }

    /// <inheritdoc/>
    public IMultipartUploads Multipart => _multipart ??= new GcsComposeUploads(this, _logger);

    private GcsComposeUploads? _multipart;

    /// <summary>objects.compose: <paramref name="sources"/> (at most 32, in order) into <paramref name="destination"/>.</summary>
    internal async Task<ObjectInfo> ComposeAsync(IReadOnlyList<string> sources, string destination, ObjectWriteOptions options, CancellationToken ct)
    {
        InnerRequest?.Invoke(Decorators.RequestKind.Copy);
        var body = new JsonObject
        {
            ["sourceObjects"] = new JsonArray(sources.Select(s => (JsonNode)new JsonObject { ["name"] = s }).ToArray()),
            ["destination"] = Resource(destination, options, null),
        };
        using var r = await SendAsync(() =>
        {
            var m = Request(HttpMethod.Post, ObjectPath(destination) + "/compose");
            m.Content = JsonContent.Create(body, Util.CoreJsonContext.Default.JsonObject);
            return m;
        }, HttpCompletionOption.ResponseContentRead, ct).ConfigureAwait(false);
        if (!r.IsSuccessStatusCode) throw await FailAsync(r, destination).ConfigureAwait(false);
        using var doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync(ct).ConfigureAwait(false));
        return InfoFrom(doc.RootElement);
    }
}
