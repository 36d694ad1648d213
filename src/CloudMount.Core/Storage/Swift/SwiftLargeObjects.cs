using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace CloudMount.Core.Storage.Swift;

/// <summary>
/// Large files as Swift static large objects (Swift docs, "Static Large Objects"): each part is a segment object
/// in the container <c>CONTAINER_segments</c> (the name python-swiftclient uses), named
/// <c>KEY/slo/UPLOAD/PART</c> and sent with its MD5 as ETag so Swift checks it; completing PUTs the manifest
/// (<c>?multipart-manifest=put</c>, a JSON list of path, etag and size_bytes) last, so readers see the old object
/// until the new one is whole. Aborting deletes the segments sent; replacing a large object deletes the old
/// one's segments once the new manifest is stored.
/// </summary>
internal sealed class SwiftLargeObjects(SwiftObjectStore store) : IMultipartUploads
{
    /// <summary>Swift accepts segments of any size but the last must not be empty; 1 MiB keeps manifests small.</summary>
    public long MinPartBytes => Bytes.MiB;

    /// <summary>Swift's default max_manifest_segments.</summary>
    public int MaxParts => 1000;

    public async Task<IMultipartUpload> StartAsync(string key, ObjectWriteOptions options, CancellationToken cancellationToken)
    {
        await store.EnsureSegmentContainerAsync(cancellationToken).ConfigureAwait(false);
        string upload = $"{DateTimeOffset.UtcNow:yyyyMMddHHmmssfff}-{Guid.NewGuid():n}"[..30];
        return new Upload(store, key, upload, options);
    }

    private sealed class Upload(SwiftObjectStore store, string key, string upload, ObjectWriteOptions options) : IMultipartUpload
    {
        private readonly ConcurrentDictionary<int, (string ETag, long Size)> _parts = new();

        public string Key => key;

        private string Segment(int part) => $"{key}/slo/{upload}/{part:D8}";

        public async Task UploadPartAsync(int partNumber, ObjectContent content, CancellationToken cancellationToken)
        {
            byte[] md5;
            await using (var hash = content.OpenRead())
            {
                md5 = await MD5.HashDataAsync(hash, cancellationToken).ConfigureAwait(false);
            }
            var info = await store.PutSegmentAsync(Segment(partNumber), content, md5, cancellationToken).ConfigureAwait(false);
            _parts[partNumber] = (info.ETag ?? Convert.ToHexStringLower(md5), content.Length);
        }

        public async Task<ObjectInfo> CompleteAsync(int parts, long totalBytes, CancellationToken cancellationToken)
        {
            var manifest = new JsonArray();
            long sum = 0;
            for (int i = 1; i <= parts; i++)
            {
                if (!_parts.TryGetValue(i, out var p)) throw new InvalidOperationException($"part {i} of {key} was never uploaded");
                manifest.Add((JsonNode)new JsonObject { ["path"] = store.SegmentPath(Segment(i)), ["etag"] = p.ETag, ["size_bytes"] = p.Size });
                sum += p.Size;
            }
            if (sum != totalBytes) throw new InvalidOperationException($"{key}: parts hold {sum} bytes, expected {totalBytes}");
            var old = await store.LargeObjectSegmentsAsync(key, cancellationToken).ConfigureAwait(false);
            var info = await store.PutManifestAsync(key, Encoding.UTF8.GetBytes(manifest.ToJsonString()), options, cancellationToken).ConfigureAwait(false);
            // Swift's documented SLO ETag: the MD5 of the segments' ETags, concatenated. Anything else is not our object.
            string expected = Convert.ToHexStringLower(MD5.HashData(Encoding.ASCII.GetBytes(string.Concat(Enumerable.Range(1, parts).Select(i => _parts[i].ETag)))));
            if (info.ETag is { Length: 32 } stored && stored != expected)
            {
                throw new ChecksumMismatchException($"large object {key} on {store.Name}: the manifest's ETag is {stored}, its segments give {expected}");
            }
            // The segments of the object this one replaced are garbage now.
            var mine = Enumerable.Range(1, parts).Select(i => store.SegmentPath(Segment(i))).ToHashSet();
            foreach (string path in old.Where(p => !mine.Contains(p)))
            {
                await store.DeletePathAsync(path, cancellationToken).ConfigureAwait(false);
            }
            return info;
        }

        public async Task AbortAsync(CancellationToken cancellationToken)
        {
            foreach (int part in _parts.Keys)
            {
                await store.DeletePathAsync(store.SegmentPath(Segment(part)), cancellationToken).ConfigureAwait(false);
            }
        }
    }
}

public sealed partial class SwiftObjectStore
{
    /// <summary>The container segments go to: <c>CONTAINER_segments</c>.</summary>
    public string SegmentContainer => _container + "_segments";

    internal string SegmentPath(string segment) => $"/{SegmentContainer}/{segment}";

    private Uri PathUri(SwiftSession s, string path) =>
        new($"{s.StorageUrl.AbsoluteUri.TrimEnd('/')}/{string.Join('/', path.TrimStart('/').Split('/').Select(Uri.EscapeDataString))}");

    internal async Task EnsureSegmentContainerAsync(CancellationToken ct)
    {
        using var r = await SendAsync(s => new HttpRequestMessage(HttpMethod.Put, $"{s.StorageUrl.AbsoluteUri.TrimEnd('/')}/{Uri.EscapeDataString(SegmentContainer)}") { Content = new ByteArrayContent([]) },
            HttpCompletionOption.ResponseContentRead, ct).ConfigureAwait(false);
        if (!r.IsSuccessStatusCode) throw Fail(r, null);
        _segmentsExist = true;
    }

    internal async Task<ObjectInfo> PutSegmentAsync(string segment, ObjectContent content, byte[] md5, CancellationToken ct)
    {
        var streams = new List<Stream>();
        try
        {
            using var r = await SendAsync(s =>
            {
                var body = content.OpenRead();
                streams.Add(body);
                var m = new HttpRequestMessage(HttpMethod.Put, PathUri(s, SegmentPath(segment))) { Content = new StreamContent(body) };
                m.Content.Headers.ContentLength = content.Length;
                m.Headers.TryAddWithoutValidation("ETag", Convert.ToHexStringLower(md5));
                return m;
            }, HttpCompletionOption.ResponseContentRead, ct).ConfigureAwait(false);
            if (!r.IsSuccessStatusCode) throw Fail(r, segment);
            return new ObjectInfo(segment, content.Length, NormalizeETag(Header(r, "ETag")), DateTimeOffset.UtcNow);
        }
        finally
        {
            foreach (var s in streams) await s.DisposeAsync().ConfigureAwait(false);
        }
    }

    internal async Task<ObjectInfo> PutManifestAsync(string key, byte[] manifest, ObjectWriteOptions options, CancellationToken ct)
    {
        using (var r = await SendAsync(s =>
        {
            var m = new HttpRequestMessage(HttpMethod.Put, ObjectUri(s, key).AbsoluteUri + "?multipart-manifest=put") { Content = new ByteArrayContent(manifest) };
            AddWriteHeaders(m, options, forPost: false);
            return m;
        }, HttpCompletionOption.ResponseContentRead, ct).ConfigureAwait(false))
        {
            if (r.StatusCode == HttpStatusCode.NotFound) throw new BucketNotFoundException(_container);
            if (!r.IsSuccessStatusCode)
            {
                string body = await r.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
                if ((int)r.StatusCode == 400) throw new ObjectStoreException($"{Name}/{key}: Swift refused the large object's manifest: {body.Trim()}");
                throw Fail(r, key);
            }
        }
        return await HeadAsync(key, ct).ConfigureAwait(false) ?? throw new ObjectNotFoundException(key);
    }

    /// <summary>The segment paths (<c>/container/name</c>) of a static large object, or none for any other object.</summary>
    internal async Task<IReadOnlyList<string>> LargeObjectSegmentsAsync(string key, CancellationToken ct)
    {
        InnerRequest?.Invoke(Decorators.RequestKind.Get);
        using var r = await SendAsync(s => new HttpRequestMessage(HttpMethod.Get, ObjectUri(s, key).AbsoluteUri + "?multipart-manifest=get&format=raw"),
            HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
        if (r.StatusCode == HttpStatusCode.NotFound) return [];
        if (!r.IsSuccessStatusCode) throw Fail(r, key);
        if (!string.Equals(Header(r, "X-Static-Large-Object"), "true", StringComparison.OrdinalIgnoreCase)) return [];
        try
        {
            using var doc = await JsonDocument.ParseAsync(await r.Content.ReadAsStreamAsync(ct).ConfigureAwait(false), cancellationToken: ct).ConfigureAwait(false);
            return doc.RootElement.EnumerateArray().Select(e => (e.TryGetProperty("path", out var p) ? p : e.GetProperty("name")).GetString()!).ToList();
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException)
        {
            throw new InvalidResponseException($"{Name}/{key}: the large object's manifest is not JSON: {e.Message}");
        }
    }

    /// <summary>Deletes an object by its account path (<c>/container/name</c>); a missing one is fine.</summary>
    internal async Task DeletePathAsync(string path, CancellationToken ct)
    {
        InnerRequest?.Invoke(Decorators.RequestKind.Delete);
        using var r = await SendAsync(s => new HttpRequestMessage(HttpMethod.Delete, PathUri(s, path)), HttpCompletionOption.ResponseContentRead, ct).ConfigureAwait(false);
        if (!r.IsSuccessStatusCode && r.StatusCode != HttpStatusCode.NotFound) throw Fail(r, path);
    }
}
