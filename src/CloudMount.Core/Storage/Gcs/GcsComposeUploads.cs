using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace CloudMount.Core.Storage.Gcs;

/// <summary>
/// The mount's streaming uploads on GCS, whose JSON API has no multipart upload of parts: each part is uploaded as
/// a temporary object under <c>.cloudmount-parts/UPLOAD/</c>, and completing composes them into the object
/// (objects.compose takes up to 32 sources, so larger uploads compose in two rounds), then deletes the temporary
/// objects. Until then the object itself does not change. Aborting deletes the parts.
/// </summary>
internal sealed class GcsComposeUploads(GcsObjectStore store) : IMultipartUploads
{
    /// <summary>Sources per objects.compose call (Google's documented limit).</summary>
    public const int ComposeLimit = 32;

    /// <summary>The folder temporary parts live in.</summary>
    public const string PartsFolder = ".cloudmount-parts/";

    public long MinPartBytes => 1;

    /// <summary>Two rounds of 32.</summary>
    public int MaxParts => ComposeLimit * ComposeLimit;

    public Task<IMultipartUpload> StartAsync(string key, ObjectWriteOptions options, CancellationToken cancellationToken) =>
        Task.FromResult<IMultipartUpload>(new Upload(store, key, options, Guid.NewGuid().ToString("n")[..16]));

    private sealed class Upload(GcsObjectStore store, string key, ObjectWriteOptions options, string id) : IMultipartUpload
    {
        private readonly ConcurrentDictionary<string, bool> _temporary = new();

        public string Key => key;

        private string Part(int n) => $"{PartsFolder}{id}/{n:D5}";

        public async Task UploadPartAsync(int partNumber, ObjectContent content, CancellationToken cancellationToken)
        {
            _temporary[Part(partNumber)] = true;
            await store.WriteAsync(Part(partNumber), content, new ObjectWriteOptions { ContentMd5 = await Md5Async(content, cancellationToken).ConfigureAwait(false) }, cancellationToken).ConfigureAwait(false);
        }

        private static async Task<byte[]> Md5Async(ObjectContent content, CancellationToken ct)
        {
            await using var s = content.OpenRead();
            return await System.Security.Cryptography.MD5.HashDataAsync(s, ct).ConfigureAwait(false);
        }

        public async Task<ObjectInfo> CompleteAsync(int parts, long totalBytes, CancellationToken cancellationToken)
        {
            var sources = Enumerable.Range(1, parts).Select(Part).ToList();
            // First round: groups of 32 into intermediate objects, when there are more than 32 parts.
            if (sources.Count > ComposeLimit)
            {
                var groups = sources.Chunk(ComposeLimit).ToList();
                var intermediate = new string[groups.Count];
                await Parallel.ForEachAsync(Enumerable.Range(0, groups.Count), cancellationToken, async (i, ct) =>
                {
                    intermediate[i] = $"{PartsFolder}{id}/c{i:D3}";
                    _temporary[intermediate[i]] = true;
                    await store.ComposeAsync(groups[i], intermediate[i], ObjectWriteOptions.Default, ct).ConfigureAwait(false);
                }).ConfigureAwait(false);
                sources = [.. intermediate];
            }
            var info = await store.ComposeAsync(sources, key, options, cancellationToken).ConfigureAwait(false);
            await AbortAsync(cancellationToken).ConfigureAwait(false);
            if (info.Size != totalBytes) throw new InvalidResponseException($"{store.Name}/{key}: composed {info.Size} bytes, expected {totalBytes}");
            return info;
        }

        public async Task AbortAsync(CancellationToken cancellationToken)
        {
            await Parallel.ForEachAsync(_temporary.Keys, cancellationToken, async (k, ct) =>
            {
                store.InnerRequest?.Invoke(Decorators.RequestKind.Delete);
                await store.DeleteAsync(k, ct).ConfigureAwait(false);
            }).ConfigureAwait(false);
            _temporary.Clear();
        }
    }
}

public sealed partial class GcsObjectStore : IReportsInnerRequests
{
    /// <inheritdoc/>
    public Action<Decorators.RequestKind>? InnerRequest { get; set; }

    /// <inheritdoc/>
    public IMultipartUploads Multipart => _multipart ??= new GcsComposeUploads(this);

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
