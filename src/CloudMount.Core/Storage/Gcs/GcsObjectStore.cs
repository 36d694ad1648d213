using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace CloudMount.Core.Storage.Gcs;

/// <summary>Gives a bearer token for each request, or <c>null</c> for anonymous access.</summary>
public delegate Task<string?> GcsTokenSource(CancellationToken cancellationToken);

/// <summary>
/// A Google Cloud Storage bucket through the JSON API (cloud.google.com/storage/docs/json_api) over HttpClient:
/// objects.list with prefix, delimiter, pageToken and a <c>fields</c> projection; objects.get for metadata and
/// with <c>alt=media</c> for range reads pinned by <c>ifGenerationMatch</c>; uploads multipart (one request)
/// or resumable (chunks answered by 308 and a Range header, resumed after a dropped connection by asking for
/// the upload's status); objects.delete; objects.rewrite for copies, looping on the rewrite token; objects.patch
/// for metadata. The "ETag" of an object here is its generation, which preconditions name.
/// </summary>
/// <remarks>
/// Requests send <c>Accept-Encoding: gzip</c> so that GCS serves gzip-encoded objects as stored instead of
/// decompressing them (decompressive transcoding ignores Range); our codec layer decodes. A whole-object read is
/// checked against the MD5 in <c>x-goog-hash</c> when the object has one.
/// </remarks>
public sealed partial class GcsObjectStore : IObjectStore
{
    private const string ListFields = "items(name,size,generation,md5Hash,updated,contentType,contentEncoding),prefixes,nextPageToken";
    private readonly HttpClient _http;
    private readonly Uri _endpoint;
    private readonly string _bucket;
    private readonly GcsTokenSource _tokens;
    private readonly long _singleRequestBytes;
    private readonly int _chunkBytes;

    /// <summary>Creates a store; no request is made until the first operation.</summary>
    /// <param name="bucket">The bucket name.</param>
    /// <param name="endpoint">The API host, e.g. <c>https://storage.googleapis.com</c>.</param>
    /// <param name="tokens">Bearer tokens (Google.Apis.Auth), or one that gives <c>null</c> for anonymous access.</param>
    /// <param name="singleRequestBytes">Largest upload sent as one multipart request; larger ones are resumable.</param>
    /// <param name="chunkBytes">Resumable upload chunk size in bytes (a multiple of 256 KiB, as GCS requires).</param>
    public GcsObjectStore(string bucket, Uri endpoint, GcsTokenSource tokens, long singleRequestBytes = 16 * Bytes.MiB, int chunkBytes = 16 * 1024 * 1024)
    {
        _bucket = bucket;
        _endpoint = new Uri(endpoint.GetLeftPart(UriPartial.Authority) + "/");
        _tokens = tokens;
        _singleRequestBytes = singleRequestBytes;
        _chunkBytes = Math.Max(256 * 1024, chunkBytes / (256 * 1024) * (256 * 1024));
        _http = new HttpClient(new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(10),
            AutomaticDecompression = DecompressionMethods.None,
            MaxConnectionsPerServer = 64,
        })
        {
            Timeout = TimeSpan.FromMinutes(5),
        };
        Name = $"gs://{bucket}";
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public StoreCapabilities Capabilities { get; } = new();

    private static string Escape(string s) => Uri.EscapeDataString(s);

    private string ObjectPath(string key) => $"storage/v1/b/{Escape(_bucket)}/o/{Escape(key)}";

    private async Task<HttpResponseMessage> SendAsync(Func<HttpRequestMessage> make, HttpCompletionOption completion, CancellationToken ct)
    {
        using var request = make();
        if (await _tokens(ct).ConfigureAwait(false) is { } token)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        request.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("gzip"));
        return await HttpExchange.SendAsync(_http, request, completion, _endpoint, ct).ConfigureAwait(false);
    }

    private HttpRequestMessage Request(HttpMethod method, string pathAndQuery) => new(method, new Uri(_endpoint, pathAndQuery));

    /// <summary>Maps an error answer (JSON API error body) to our exceptions, and disposes it.</summary>
    private async Task<Exception> FailAsync(HttpResponseMessage r, string? key, string? generation = null)
    {
        using (r)
        {
            string message = $"{(int)r.StatusCode} {r.ReasonPhrase}";
            bool json = true;
            try
            {
                string body = await r.Content.ReadAsStringAsync().ConfigureAwait(false);
                message = (string?)JsonNode.Parse(body)?["error"]?["message"] ?? message;
            }
            catch (JsonException)
            {
                message += " (not a JSON API error body: is this a GCS endpoint?)";
                json = false;
            }
            message = message.ReplaceLineEndings(" ");
            int status = (int)r.StatusCode;
            string where = key is null ? Name : $"{Name}/{key}";
            if (!json) return new InvalidResponseException($"{where}: {message}");
            bool bucketMissing = status == 404 && (key is null || message.Contains("bucket", StringComparison.OrdinalIgnoreCase));
            return status switch
            {
                404 when bucketMissing => new BucketNotFoundException(_bucket),
                404 => new ObjectNotFoundException(key!),
                412 => new PreconditionFailedException(key ?? "", generation),
                401 => new AccessDeniedException($"access to {where} denied: the credentials were refused ({message})"),
                403 => new AccessDeniedException($"access to {where} denied: {message}"),
                408 or 429 or >= 500 => new TransientStoreException($"{where}: {status} {message}"),
                _ => new InvalidResponseException($"{where}: {status} {message}"),
            };
        }
    }

    /// <summary>An object resource (JSON) as our description; the generation serves as the ETag.</summary>
    internal static ObjectInfo InfoFrom(JsonElement o)
    {
        string name = o.GetProperty("name").GetString()!;
        long size = o.TryGetProperty("size", out var s) ? long.Parse(s.GetString()!, CultureInfo.InvariantCulture) : 0;
        string? generation = o.TryGetProperty("generation", out var g) ? g.GetString() : null;
        var updated = o.TryGetProperty("updated", out var u) && DateTimeOffset.TryParse(u.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? t : DateTimeOffset.UnixEpoch;
        Dictionary<string, string>? metadata = null;
        if (o.TryGetProperty("metadata", out var m) && m.ValueKind == JsonValueKind.Object)
        {
            metadata = m.EnumerateObject().ToDictionary(p => p.Name.ToLowerInvariant(), p => p.Value.GetString() ?? "", StringComparer.Ordinal);
        }
        return new ObjectInfo(name, size, generation, updated)
        {
            ContentType = o.TryGetProperty("contentType", out var ct) ? ct.GetString() : null,
            ContentEncoding = o.TryGetProperty("contentEncoding", out var ce) ? ce.GetString() : null,
            Metadata = metadata is { Count: > 0 } ? metadata : null,
            StorageClass = o.TryGetProperty("storageClass", out var sc) ? sc.GetString() : null,
        };
    }

    /// <inheritdoc/>
    public async Task<ListPage> ListAsync(ListRequest request, CancellationToken cancellationToken)
    {
        string query = $"?prefix={Escape(request.Prefix)}&maxResults={Math.Clamp(request.MaxKeys, 1, 1000)}&fields={Escape(ListFields)}"
            + (request.Delimiter is { } d ? $"&delimiter={Escape(d)}" : "")
            + (request.PageToken is { } t ? $"&pageToken={Escape(t)}" : "");
        using var r = await SendAsync(() => Request(HttpMethod.Get, $"storage/v1/b/{Escape(_bucket)}/o{query}"), HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
        if (!r.IsSuccessStatusCode) throw await FailAsync(r, null).ConfigureAwait(false);
        try
        {
            using var doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false));
            var root = doc.RootElement;
            // Parts of uploads in progress (GcsComposeUploads) are not part of the namespace.
            var objects = root.TryGetProperty("items", out var items)
                ? items.EnumerateArray().Select(InfoFrom).Where(o => !o.Key.StartsWith(GcsComposeUploads.PartsFolder, StringComparison.Ordinal)).ToList() : [];
            var prefixes = root.TryGetProperty("prefixes", out var p)
                ? p.EnumerateArray().Select(x => x.GetString()!).Where(x => x != GcsComposeUploads.PartsFolder).ToList() : [];
            string? next = root.TryGetProperty("nextPageToken", out var n) ? n.GetString() : null;
            return new ListPage(objects, prefixes, string.IsNullOrEmpty(next) ? null : next);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            throw new InvalidResponseException($"{Name}: the listing is not a JSON API objects list: {e.Message}");
        }
    }

    /// <inheritdoc/>
    public async Task<ObjectInfo?> HeadAsync(string key, CancellationToken cancellationToken)
    {
        using var r = await SendAsync(() => Request(HttpMethod.Get, ObjectPath(key)), HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
        if (r.StatusCode == HttpStatusCode.NotFound)
        {
            var e = await FailAsync(r, key).ConfigureAwait(false);
            if (e is BucketNotFoundException) throw e;
            return null;
        }
        if (!r.IsSuccessStatusCode) throw await FailAsync(r, key).ConfigureAwait(false);
        using var doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false));
        return InfoFrom(doc.RootElement);
    }

    /// <inheritdoc/>
    public async Task<ObjectReadResult> ReadAsync(string key, ByteRange range, string? ifMatch, CancellationToken cancellationToken)
    {
        if (range.Length == 0)
        {
            var head = await HeadAsync(key, cancellationToken).ConfigureAwait(false) ?? throw new ObjectNotFoundException(key);
            if (ifMatch is not null && head.ETag != ifMatch) throw new PreconditionFailedException(key, ifMatch);
            return new ObjectReadResult(Stream.Null, head, new ByteRange(range.Offset, 0));
        }
        string query = "?alt=media" + (ifMatch is not null ? $"&ifGenerationMatch={Escape(ifMatch)}" : "");
        var r = await SendAsync(() =>
        {
            var m = Request(HttpMethod.Get, ObjectPath(key) + query);
            if (!range.IsWholeObject) m.Headers.Range = new RangeHeaderValue(range.Offset, range.LastByte);
            return m;
        }, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        if (r.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
        {
            r.Dispose();
            var head = await HeadAsync(key, cancellationToken).ConfigureAwait(false) ?? throw new ObjectNotFoundException(key);
            if (ifMatch is not null && head.ETag != ifMatch) throw new PreconditionFailedException(key, ifMatch);
            return new ObjectReadResult(Stream.Null, head, new ByteRange(head.Size, 0));
        }
        if (!r.IsSuccessStatusCode) throw await FailAsync(r, key, ifMatch).ConfigureAwait(false);
        long length = r.Content.Headers.ContentLength ?? -1;
        if (!HttpExchange.TryServedRange(r, range, length, out long offset, out long total))
        {
            r.Dispose();
            throw new InvalidResponseException($"{Name}/{key}: the server ignored the Range header");
        }
        string? generation = r.Headers.TryGetValues("x-goog-generation", out var gv) ? gv.FirstOrDefault() : null;
        if (length < 0 || (ifMatch is not null && generation is not null && generation != ifMatch))
        {
            r.Dispose();
            throw length < 0 ? new InvalidResponseException($"{Name}/{key}: no Content-Length") : new PreconditionFailedException(key, ifMatch);
        }
        var metadata = r.Headers.Where(h => h.Key.StartsWith("x-goog-meta-", StringComparison.OrdinalIgnoreCase))
            .ToDictionary(h => h.Key["x-goog-meta-".Length..].ToLowerInvariant(), h => h.Value.FirstOrDefault() ?? "", StringComparer.Ordinal);
        var info = new ObjectInfo(key, total, generation ?? ifMatch, r.Content.Headers.LastModified ?? DateTimeOffset.UnixEpoch)
        {
            ContentType = r.Content.Headers.ContentType?.ToString(),
            ContentEncoding = r.Content.Headers.ContentEncoding.Count > 0 ? string.Join(", ", r.Content.Headers.ContentEncoding) : null,
            Metadata = metadata.Count > 0 ? metadata : null,
        };
        Stream body = new HttpResponseBody(await r.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), r);
        if (offset == 0 && length == total && Md5FromGoogHash(r) is { } md5)
        {
            body = new Decorators.ChecksumObjectStore.Md5VerifyingStream(body, md5, $"{Name}/{key}");
        }
        return new ObjectReadResult(body, info, new ByteRange(offset, length));
    }

    /// <summary>The md5 of <c>x-goog-hash: crc32c=..., md5=...</c> (base64), if present.</summary>
    private static byte[]? Md5FromGoogHash(HttpResponseMessage r)
    {
        if (!r.Headers.TryGetValues("x-goog-hash", out var values)) return null;
        foreach (var part in values.SelectMany(v => v.Split(',')))
        {
            var kv = part.Trim();
            if (kv.StartsWith("md5=", StringComparison.Ordinal))
            {
                try
                {
                    return Convert.FromBase64String(kv[4..]);
                }
                catch (FormatException)
                {
                    return null;
                }
            }
        }
        return null;
    }

    /// <summary>The JSON object resource sent with an upload or a patch.</summary>
    private static JsonObject Resource(string key, ObjectWriteOptions options, byte[]? md5)
    {
        var o = new JsonObject { ["name"] = key };
        if (options.ContentType is { } type) o["contentType"] = type;
        if (options.ContentEncoding is { } enc) o["contentEncoding"] = enc;
        if (md5 is not null) o["md5Hash"] = Convert.ToBase64String(md5);
        if (options.Metadata is { Count: > 0 } meta)
        {
            var m = new JsonObject();
            foreach (var (k, v) in meta) m[k] = v;
            o["metadata"] = m;
        }
        return o;
    }

    /// <inheritdoc/>
    public async Task<ObjectInfo> WriteAsync(string key, ObjectContent content, ObjectWriteOptions options, CancellationToken cancellationToken)
    {
        if (content.Length > _singleRequestBytes)
        {
            return await WriteResumableAsync(key, content, options, cancellationToken).ConfigureAwait(false);
        }
        var streams = new List<Stream>();
        try
        {
            using var r = await SendAsync(() =>
            {
                // multipart/related: the object resource as JSON, then the bytes (uploadType=multipart).
                var body = content.OpenRead();
                streams.Add(body);
                var multipart = new MultipartContent("related", "cloudmount-" + Guid.NewGuid().ToString("n"))
                {
                    JsonContent.Create(Resource(key, options, options.ContentMd5), Util.CoreJsonContext.Default.JsonObject),
                };
                var media = new StreamContent(body);
                media.Headers.ContentType = new MediaTypeHeaderValue(options.ContentType ?? "application/octet-stream");
                media.Headers.ContentLength = content.Length;
                multipart.Add(media);
                var m = Request(HttpMethod.Post, $"upload/storage/v1/b/{Escape(_bucket)}/o?uploadType=multipart");
                m.Content = multipart;
                return m;
            }, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
            if (!r.IsSuccessStatusCode)
            {
                if (r.StatusCode == HttpStatusCode.BadRequest && options.ContentMd5 is not null)
                {
                    string body = await r.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
                    if (body.Contains("MD5", StringComparison.OrdinalIgnoreCase) || body.Contains("hash", StringComparison.OrdinalIgnoreCase))
                    {
                        r.Dispose();
                        throw new ChecksumMismatchException($"{Name}/{key}: the service's MD5 of the body differs from the one sent");
                    }
                }
                throw await FailAsync(r, key).ConfigureAwait(false);
            }
            using var doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false));
            return InfoFrom(doc.RootElement);
        }
        finally
        {
            foreach (var s in streams) await s.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <inheritdoc/>
    public async Task DeleteAsync(string key, CancellationToken cancellationToken)
    {
        using var r = await SendAsync(() => Request(HttpMethod.Delete, ObjectPath(key)), HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
        if (r.StatusCode == HttpStatusCode.NotFound)
        {
            var e = await FailAsync(r, key).ConfigureAwait(false);
            if (e is BucketNotFoundException) throw e;
            return;
        }
        if (!r.IsSuccessStatusCode) throw await FailAsync(r, key).ConfigureAwait(false);
    }

    /// <summary>objects.rewrite, repeated with the rewrite token until the service says it is done.</summary>
    public async Task<ObjectInfo> CopyAsync(string sourceKey, string destinationKey, CancellationToken cancellationToken)
    {
        string? token = null;
        for (int round = 0; round < 10_000; round++)
        {
            string query = token is null ? "" : $"?rewriteToken={Escape(token)}";
            using var r = await SendAsync(() =>
            {
                var m = Request(HttpMethod.Post, $"{ObjectPath(sourceKey)}/rewriteTo/b/{Escape(_bucket)}/o/{Escape(destinationKey)}{query}");
                m.Content = JsonContent.Create(new JsonObject(), Util.CoreJsonContext.Default.JsonObject);
                return m;
            }, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
            if (!r.IsSuccessStatusCode) throw await FailAsync(r, sourceKey).ConfigureAwait(false);
            using var doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false));
            var root = doc.RootElement;
            if (root.TryGetProperty("done", out var done) && done.GetBoolean())
            {
                return InfoFrom(root.GetProperty("resource"));
            }
            token = root.GetProperty("rewriteToken").GetString();
        }
        throw new InvalidResponseException($"{Name}: rewrite of {sourceKey} never finished");
    }

    /// <summary>objects.patch with the whole metadata set (removed keys sent as null), if the generation is still <paramref name="ifMatch"/>.</summary>
    public async Task<ObjectInfo> UpdateMetadataAsync(string key, ObjectWriteOptions options, string? ifMatch, CancellationToken cancellationToken)
    {
        var current = await HeadAsync(key, cancellationToken).ConfigureAwait(false) ?? throw new ObjectNotFoundException(key);
        var metadata = new JsonObject();
        foreach (var k in current.Metadata?.Keys ?? []) metadata[k] = null;
        foreach (var (k, v) in options.Metadata ?? new Dictionary<string, string>()) metadata[k] = v;
        var patch = new JsonObject { ["metadata"] = metadata };
        if (options.ContentType is { } type) patch["contentType"] = type;
        if (options.ContentEncoding is { } enc) patch["contentEncoding"] = enc;
        string query = ifMatch is null ? "" : $"?ifGenerationMatch={Escape(ifMatch)}";
        using var r = await SendAsync(() =>
        {
            var m = Request(HttpMethod.Patch, ObjectPath(key) + query);
            m.Content = JsonContent.Create(patch, Util.CoreJsonContext.Default.JsonObject);
            return m;
        }, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
        if (!r.IsSuccessStatusCode) throw await FailAsync(r, key, ifMatch).ConfigureAwait(false);
        using var doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false));
        return InfoFrom(doc.RootElement);
    }

    /// <inheritdoc/>
    public ValueTask DisposeAsync()
    {
        _http.Dispose();
        return ValueTask.CompletedTask;
    }


}
