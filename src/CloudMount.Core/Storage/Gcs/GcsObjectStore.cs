using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CloudMount.Core.Storage.Gcs;

/// <summary>Gives a bearer token for each request, or <c>null</c> for anonymous access.</summary>
public delegate Task<string?> GcsTokenSource(CancellationToken cancellationToken);

/// <summary>
/// A Google Cloud Storage bucket through the JSON API (cloud.google.com/storage/docs/json_api) over HttpClient:
/// objects.list with prefix, delimiter, pageToken and a <c>fields</c> projection; objects.get for metadata and
/// with <c>alt=media</c> for range reads pinned by <c>ifGenerationMatch</c>; uploads shaped as Google's client
/// libraries shape them (<see cref="WriteAsync"/>); objects.delete; objects.rewrite for copies, looping on the
/// rewrite token; objects.patch for metadata; objects.compose for the mount's large files. The "ETag" of an object
/// here is its generation, which preconditions name; its <c>md5Hash</c> and <c>crc32c</c> are reported as
/// <see cref="ObjectInfo.Md5"/> and <see cref="ObjectInfo.Crc32c"/>, which the verifying decorators check.
/// </summary>
/// <remarks>
/// Requests send <c>Accept-Encoding: gzip</c> so that GCS serves gzip-encoded objects as stored instead of
/// decompressing them (decompressive transcoding ignores Range); our codec layer decodes. Where a server lacks what
/// GCS has (firebase-tools' emulator: no compose, resumable sessions finalized by their first PUT), the backend
/// notices, says so in a debug line and uses what both have (see <see cref="GcsComposeUploads"/> and the resumable upload).
/// </remarks>
public sealed partial class GcsObjectStore : IObjectStore
{
    private const string ListFields = "items(name,size,generation,md5Hash,crc32c,updated,contentType,contentEncoding,metadata),prefixes,nextPageToken";
    private readonly HttpClient _http;
    private readonly Uri _endpoint;
    private readonly string _bucket;
    private readonly GcsTokenSource _tokens;
    private readonly long _singleRequestBytes;
    private readonly ILogger _logger;

    /// <summary>Creates a store; no request is made until the first operation.</summary>
    /// <param name="bucket">The bucket name.</param>
    /// <param name="endpoint">The API host, e.g. <c>https://storage.googleapis.com</c>.</param>
    /// <param name="tokens">Bearer tokens (Google.Apis.Auth), or one that gives <c>null</c> for anonymous access.</param>
    /// <param name="singleRequestBytes">Largest upload sent as one multipart request; larger ones are resumable.</param>
    /// <param name="timeouts">How long to wait on a silent server; default <see cref="HttpTimeouts.Default"/>.</param>
    /// <param name="logger">Receives the debug lines that say when a fallback is used.</param>
    public GcsObjectStore(string bucket, Uri endpoint, GcsTokenSource tokens, long singleRequestBytes = 16 * Bytes.MiB, HttpTimeouts? timeouts = null, ILogger? logger = null)
    {
        _bucket = bucket;
        _endpoint = new Uri(endpoint.GetLeftPart(UriPartial.Authority) + "/");
        _tokens = tokens;
        _singleRequestBytes = singleRequestBytes;
        _logger = logger ?? NullLogger.Instance;
        _http = StoreHttp.CreateClient(timeouts ?? HttpTimeouts.Default);
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
        if (await TokenAsync(ct).ConfigureAwait(false) is { } token)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        request.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("gzip"));
        return await HttpExchange.SendAsync(_http, request, completion, _endpoint, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// A token from Google.Apis.Auth, its failures typed: the token endpoint unreachable or silent is a connection
    /// failure, a 5xx or 429 from it transient (both retried), a refusal (invalid_grant and the like) access denied.
    /// </summary>
    private async Task<string?> TokenAsync(CancellationToken ct)
    {
        try
        {
            return await _tokens(ct).ConfigureAwait(false);
        }
        catch (Google.Apis.Auth.OAuth2.Responses.TokenResponseException e)
        {
            int status = (int?)e.StatusCode ?? 0;
            string what = $"{Name}: Google token renewal answered {status} {e.Error?.Error}: {e.Error?.ErrorDescription}";
            if (status is 0 or 408 or 429 or >= 500) throw new TransientStoreException(what, e);
            throw new AccessDeniedException(what, e);
        }
        catch (HttpRequestException e)
        {
            throw new ConnectionFailedException($"{Name}: cannot reach Google's token endpoint: {e.Message}", e);
        }
        catch (TaskCanceledException e) when (!ct.IsCancellationRequested)
        {
            throw new ConnectionFailedException($"{Name}: Google's token endpoint did not answer in time", e);
        }
    }

    private HttpRequestMessage Request(HttpMethod method, string pathAndQuery) => new(method, new Uri(_endpoint, pathAndQuery));

    /// <summary>Maps an error answer (JSON API error body, or a plain one from servers that send plain ones) to our exceptions, and disposes it.</summary>
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
                json = false;
            }
            catch (Exception e) when (e is HttpRequestException or IOException)
            {
                json = false;
            }
            message = message.ReplaceLineEndings(" ");
            int status = (int)r.StatusCode;
            string where = key is null ? Name : $"{Name}/{key}";
            bool bucketMissing = status == 404 && (key is null || message.Contains("bucket", StringComparison.OrdinalIgnoreCase));
            return status switch
            {
                // A listing answered without a JSON error body is no GCS answer (a web server's 404 page).
                404 when key is null && !json => new InvalidResponseException($"{where}: {message} (not a JSON API error body: is this a GCS endpoint?)"),
                404 when bucketMissing => new BucketNotFoundException(_bucket),
                404 => new ObjectNotFoundException(key!),
                412 => new PreconditionFailedException(key ?? "", generation),
                401 => new AccessDeniedException($"access to {where} denied: the credentials were refused ({message})"),
                403 => new AccessDeniedException($"access to {where} denied: {message}"),
                501 => new InvalidResponseException($"{where}: 501 the server does not implement this request"),
                408 or 429 or >= 500 => new TransientStoreException($"{where}: {status} {message}"),
                _ when !json => new InvalidResponseException($"{where}: {message} (not a JSON API error body: is this a GCS endpoint?)"),
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
            ContentEncoding = o.TryGetProperty("contentEncoding", out var ce) && ce.GetString() is { Length: > 0 } enc ? enc : null,
            Metadata = metadata is { Count: > 0 } ? metadata : null,
            StorageClass = o.TryGetProperty("storageClass", out var sc) ? sc.GetString() : null,
            Md5 = o.TryGetProperty("md5Hash", out var md5) ? HexOfBase64(md5.GetString()) : null,
            Crc32c = o.TryGetProperty("crc32c", out var crc) ? Crc32C.FromBase64(crc.GetString()) : null,
        };
    }

    private static string? HexOfBase64(string? b64)
    {
        if (b64 is null) return null;
        Span<byte> b = stackalloc byte[24];
        return Convert.TryFromBase64String(b64, b, out int n) && n == 16 ? Convert.ToHexStringLower(b[..16]) : null;
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Page tokens are ours: the service's token and the last common prefix given out. Prefixes at or before it are
    /// not given again, so every prefix appears once also from servers that repeat all prefixes on every page
    /// (firebase-tools' emulator, which also counts only objects against maxResults); on GCS, which repeats none, the
    /// filter changes nothing.
    /// </remarks>
    public async Task<ListPage> ListAsync(ListRequest request, CancellationToken cancellationToken)
    {
        var (serverToken, lastPrefix) = ParseToken(request.PageToken);
        string query = $"?prefix={Escape(request.Prefix)}&maxResults={Math.Clamp(request.MaxKeys, 1, 1000)}&fields={Escape(ListFields)}"
            + (request.Delimiter is { } d ? $"&delimiter={Escape(d)}" : "")
            + (serverToken is { } t ? $"&pageToken={Escape(t)}" : "");
        using var r = await SendAsync(() => Request(HttpMethod.Get, $"storage/v1/b/{Escape(_bucket)}/o{query}"), HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
        if (!r.IsSuccessStatusCode) throw await FailAsync(r, null).ConfigureAwait(false);
        try
        {
            using var doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false));
            var root = doc.RootElement;
            // Parts of uploads in progress (GcsComposeUploads) are not part of the namespace.
            var objects = root.TryGetProperty("items", out var items)
                ? items.EnumerateArray().Select(InfoFrom).Where(o => !o.Key.StartsWith(GcsComposeUploads.PartsFolder, StringComparison.Ordinal)).ToList() : [];
            string? next = root.TryGetProperty("nextPageToken", out var n) && n.GetString() is { Length: > 0 } nt ? nt : null;
            var prefixes = (root.TryGetProperty("prefixes", out var p) ? p.EnumerateArray().Select(x => x.GetString()!) : [])
                .Where(x => x != GcsComposeUploads.PartsFolder)
                .Where(x => lastPrefix is null || string.CompareOrdinal(x, lastPrefix) > 0)
                .Distinct().Order(StringComparer.Ordinal).ToList();
            string? after = prefixes.Count > 0 ? prefixes[^1] : lastPrefix;
            return new ListPage(objects, prefixes, next is null ? null : MakeToken(next, after));
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            throw new InvalidResponseException($"{Name}: the listing is not a JSON API objects list: {e.Message}");
        }
    }

    private static string MakeToken(string server, string? lastPrefix) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes(lastPrefix is null ? server : server + "\n" + lastPrefix));

    private static (string? Server, string? LastPrefix) ParseToken(string? token)
    {
        if (token is null) return (null, null);
        string s;
        try
        {
            s = Encoding.UTF8.GetString(Convert.FromBase64String(token));
        }
        catch (FormatException)
        {
            return (token, null);
        }
        int nl = s.IndexOf('\n');
        return nl < 0 ? (s, null) : (s[..nl], s[(nl + 1)..]);
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

    private async Task<ObjectReadResult> EmptyReadAsync(string key, string? ifMatch, long? offset, CancellationToken ct)
    {
        var head = await HeadAsync(key, ct).ConfigureAwait(false) ?? throw new ObjectNotFoundException(key);
        if (ifMatch is not null && head.ETag != ifMatch) throw new PreconditionFailedException(key, ifMatch);
        return new ObjectReadResult(Stream.Null, head, new ByteRange(offset ?? head.Size, 0));
    }

    /// <inheritdoc/>
    /// <remarks>
    /// The answer's <c>x-goog-hash</c> (the whole object's CRC32C and MD5, also on range reads) is reported in the
    /// result's <see cref="ObjectInfo"/>. A server that answers a range starting past the end with the whole object (200)
    /// instead of 416 (firebase-tools' emulator) gives an empty read, as 416 does.
    /// </remarks>
    public async Task<ObjectReadResult> ReadAsync(string key, ByteRange range, string? ifMatch, CancellationToken cancellationToken)
    {
        if (range.Length == 0) return await EmptyReadAsync(key, ifMatch, range.Offset, cancellationToken).ConfigureAwait(false);
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
            return await EmptyReadAsync(key, ifMatch, null, cancellationToken).ConfigureAwait(false);
        }
        if (!r.IsSuccessStatusCode) throw await FailAsync(r, key, ifMatch).ConfigureAwait(false);
        long length = r.Content.Headers.ContentLength ?? -1;
        string? generation = r.Headers.TryGetValues("x-goog-generation", out var gv) ? gv.FirstOrDefault() : null;
        if (length < 0 || (ifMatch is not null && generation is not null && generation != ifMatch))
        {
            r.Dispose();
            throw length < 0 ? new InvalidResponseException($"{Name}/{key}: no Content-Length") : new PreconditionFailedException(key, ifMatch);
        }
        if (!HttpExchange.TryServedRange(r, range, length, out long offset, out long total))
        {
            r.Dispose();
            if (r.StatusCode == HttpStatusCode.OK && range.Offset >= length) return await EmptyReadAsync(key, ifMatch, null, cancellationToken).ConfigureAwait(false);
            throw new InvalidResponseException($"{Name}/{key}: the server ignored the Range header");
        }
        var metadata = r.Headers.Where(h => h.Key.StartsWith("x-goog-meta-", StringComparison.OrdinalIgnoreCase))
            .ToDictionary(h => h.Key["x-goog-meta-".Length..].ToLowerInvariant(), h => h.Value.FirstOrDefault() ?? "", StringComparer.Ordinal);
        var (md5, crc) = GoogHash(r);
        var info = new ObjectInfo(key, total, generation ?? ifMatch, r.Content.Headers.LastModified ?? DateTimeOffset.UnixEpoch)
        {
            ContentType = r.Content.Headers.ContentType?.ToString(),
            ContentEncoding = r.Content.Headers.ContentEncoding.Where(e => e.Length > 0).ToList() is { Count: > 0 } enc ? string.Join(", ", enc) : null,
            Metadata = metadata.Count > 0 ? metadata : null,
            Md5 = md5,
            Crc32c = crc,
        };
        Stream body = new HttpResponseBody(await r.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), r);
        return new ObjectReadResult(body, info, new ByteRange(offset, length));
    }

    /// <summary>The md5 (hex) and crc32c of <c>x-goog-hash: crc32c=..., md5=...</c> (base64), where present.</summary>
    private static (string? Md5, uint? Crc32c) GoogHash(HttpResponseMessage r)
    {
        string? md5 = null;
        uint? crc = null;
        if (!r.Headers.TryGetValues("x-goog-hash", out var values)) return (null, null);
        foreach (var part in values.SelectMany(v => v.Split(',')))
        {
            var kv = part.Trim();
            if (kv.StartsWith("md5=", StringComparison.Ordinal)) md5 = HexOfBase64(kv[4..]);
            else if (kv.StartsWith("crc32c=", StringComparison.Ordinal)) crc = Crc32C.FromBase64(kv[7..]);
        }
        return (md5, crc);
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

    /// <summary>
    /// objects.patch with the whole metadata set (removed keys sent as null), if the generation is still
    /// <paramref name="ifMatch"/> (checked here too, for servers that ignore the precondition). The bytes must come
    /// out as they went in: the answer's size, MD5 and CRC32C are compared with the object's before the patch.
    /// </summary>
    public async Task<ObjectInfo> UpdateMetadataAsync(string key, ObjectWriteOptions options, string? ifMatch, CancellationToken cancellationToken)
    {
        var current = await HeadAsync(key, cancellationToken).ConfigureAwait(false) ?? throw new ObjectNotFoundException(key);
        if (ifMatch is not null && current.ETag != ifMatch) throw new PreconditionFailedException(key, ifMatch);
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
        var info = InfoFrom(doc.RootElement);
        Decorators.UploadVerifyingObjectStore.Check(Name, "metadata update", key, current.Size, current.Md5, current.Crc32c, info, Capabilities);
        return info;
    }

    /// <inheritdoc/>
    public ValueTask DisposeAsync()
    {
        _http.Dispose();
        return ValueTask.CompletedTask;
    }
}
