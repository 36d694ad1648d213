using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace CloudMount.Tests.Support;

/// <summary>
/// A Google Cloud Storage JSON API server for tests (no GCS emulator runs here; see shared/TEST-SERVERS.md),
/// written from Google's documentation: objects.list (prefix, delimiter, pageToken, maxResults; the
/// <c>fields</c> projection is accepted and the full resource returned, which the documentation allows a client
/// to expect as a superset), objects.get (metadata, and <c>alt=media</c> with Range: 206, 416), uploads
/// (<c>uploadType=media</c>, <c>multipart</c>, <c>resumable</c> with 308 and Range, status queries with
/// <c>bytes */N</c>), objects.delete, objects.rewrite (in several calls with a rewriteToken above 1 MiB, as the
/// service does for large objects), objects.patch, <c>ifGenerationMatch</c> preconditions, and the JSON error
/// bodies for 400, 404, 412 and 416. Runs on HttpListener in the test process, on 127.0.0.1.
/// </summary>
public sealed class GcsTestServer : IAsyncDisposable
{
    private sealed record Blob(byte[] Data, long Generation, DateTimeOffset Updated, string? ContentType, string? ContentEncoding, Dictionary<string, string> Metadata)
    {
        /// <summary>Composed objects have a CRC32C but no MD5, as GCS documents.</summary>
        public bool Composite { get; init; }
    }

    private sealed class Session(string bucket, JsonObject resource, long total)
    {
        public string Bucket { get; } = bucket;
        public JsonObject Resource { get; } = resource;
        public long Total { get; } = total;
        public MemoryStream Received { get; } = new();
    }

    private readonly HttpListener _listener = new();
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, Blob>> _buckets = new();
    private readonly ConcurrentDictionary<string, Session> _sessions = new();
    private readonly Task _loop;
    private long _generation = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000;

    /// <summary>Counts of requests by kind ("list", "get", "media", "upload:multipart", "upload:resumable", "chunk", "delete", "rewrite", "patch").</summary>
    public ConcurrentDictionary<string, int> Requests { get; } = new();

    /// <summary>
    /// When set, the next PUT to a resumable session is cut off half-way: the service keeps what it received, rounded
    /// down to 256 KiB as GCS persists it, and answers 503 (HttpListener cannot drop a connection outright).
    /// </summary>
    public bool FailNextChunk { get; set; }

    /// <summary>
    /// When set, uploads are stored with two bytes (<c>\r\n</c>) in front of the data, as firebase-tools' emulator stored
    /// multipart uploads whose media part carried a second header line: a server that stores other bytes than sent.
    /// </summary>
    public bool CorruptUploads { get; set; }

    /// <summary>When set, media reads serve the stored bytes with one bit flipped (and the true hashes in x-goog-hash).</summary>
    public bool CorruptReads { get; set; }

    /// <summary>The base URL, e.g. http://127.0.0.1:PORT.</summary>
    public Uri Endpoint { get; }

    public GcsTestServer()
    {
        int port = TestServers.FreePortRange(1);
        Endpoint = new Uri($"http://127.0.0.1:{port}");
        _listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    /// <summary>Creates an empty bucket.</summary>
    public void CreateBucket(string name) => _buckets.TryAdd(name, new ConcurrentDictionary<string, Blob>(StringComparer.Ordinal));

    /// <summary>Puts an object as another client would.</summary>
    public void Put(string bucket, string key, byte[] data, string? contentEncoding = null, Dictionary<string, string>? metadata = null) =>
        _buckets[bucket][key] = new Blob(data, Interlocked.Increment(ref _generation), DateTimeOffset.UtcNow, "application/octet-stream", contentEncoding, metadata ?? []);

    /// <summary>An object's bytes and metadata, or null.</summary>
    public (byte[] Data, string? ContentEncoding, IReadOnlyDictionary<string, string> Metadata)? Get(string bucket, string key) =>
        _buckets.TryGetValue(bucket, out var b) && b.TryGetValue(key, out var blob) ? (blob.Data, blob.ContentEncoding, blob.Metadata) : null;

    /// <summary>Keys of a bucket, sorted.</summary>
    public List<string> Keys(string bucket, string prefix = "") =>
        _buckets[bucket].Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();

    /// <summary>Deletes an object as another client would.</summary>
    public void Delete(string bucket, string key) => _buckets[bucket].TryRemove(key, out _);

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
            _ = Task.Run(() => HandleAsync(context));
        }
    }

    private void Count(string kind) => Requests.AddOrUpdate(kind, 1, (_, n) => n + 1);

    private static async Task ErrorAsync(HttpListenerResponse r, int code, string message)
    {
        var body = new JsonObject
        {
            ["error"] = new JsonObject
            {
                ["code"] = code,
                ["message"] = message,
                ["errors"] = new JsonArray(new JsonObject { ["message"] = message, ["domain"] = "global", ["reason"] = code switch { 404 => "notFound", 412 => "conditionNotMet", 416 => "requestedRangeNotSatisfiable", _ => "invalid" } }),
            },
        };
        await JsonAsync(r, body, code);
    }

    private static async Task JsonAsync(HttpListenerResponse r, JsonNode body, int status = 200)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(body.ToJsonString());
        r.StatusCode = status;
        r.ContentType = "application/json; charset=UTF-8";
        r.ContentLength64 = bytes.Length;
        await r.OutputStream.WriteAsync(bytes);
        r.Close();
    }

    private static JsonObject Resource(string bucket, string key, Blob b)
    {
        var o = new JsonObject
        {
            ["kind"] = "storage#object",
            ["id"] = $"{bucket}/{key}/{b.Generation}",
            ["name"] = key,
            ["bucket"] = bucket,
            ["generation"] = b.Generation.ToString(CultureInfo.InvariantCulture),
            ["metageneration"] = "1",
            ["size"] = b.Data.Length.ToString(CultureInfo.InvariantCulture),
            ["crc32c"] = CloudMount.Core.Storage.Crc32C.ToBase64(CloudMount.Core.Storage.Crc32C.Compute(b.Data)),
            ["updated"] = b.Updated.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
            ["storageClass"] = "STANDARD",
        };
        if (!b.Composite) o["md5Hash"] = Convert.ToBase64String(MD5.HashData(b.Data));
        else o["componentCount"] = 2;
        if (b.ContentType is { } ct) o["contentType"] = ct;
        if (b.ContentEncoding is { } ce) o["contentEncoding"] = ce;
        if (b.Metadata.Count > 0) o["metadata"] = new JsonObject(b.Metadata.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)JsonValue.Create(kv.Value))));
        return o;
    }

    private static Dictionary<string, string> Query(string raw)
    {
        int q = raw.IndexOf('?');
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        if (q < 0) return d;
        foreach (var part in raw[(q + 1)..].Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = part.IndexOf('=');
            d[Uri.UnescapeDataString(eq < 0 ? part : part[..eq])] = eq < 0 ? "" : Uri.UnescapeDataString(part[(eq + 1)..].Replace('+', ' '));
        }
        return d;
    }

    private async Task HandleAsync(HttpListenerContext c)
    {
        var req = c.Request;
        var res = c.Response;
        try
        {
            string raw = req.RawUrl ?? "/";
            string path = raw.Split('?')[0];
            var q = Query(raw);
            var seg = path.Split('/', StringSplitOptions.RemoveEmptyEntries).Select(Uri.UnescapeDataString).ToArray();
            // /storage/v1/b/{bucket}/o[/{object}[/rewriteTo/b/{bucket}/o/{object}]]  and  /upload/storage/v1/b/{bucket}/o
            bool upload = seg.Length > 0 && seg[0] == "upload";
            var s = upload ? seg[1..] : seg;
            if (s.Length < 5 || s[0] != "storage" || s[1] != "v1" || s[2] != "b" || s[4] != "o")
            {
                await ErrorAsync(res, 404, "Not Found");
                return;
            }
            string bucket = s[3];
            if (!_buckets.TryGetValue(bucket, out var objects))
            {
                await ErrorAsync(res, 404, "The specified bucket does not exist.");
                return;
            }
            if (upload)
            {
                await UploadAsync(req, res, bucket, objects, q);
                return;
            }
            if (s.Length == 5)
            {
                Count("list");
                await ListAsync(res, bucket, objects, q);
                return;
            }
            string key = s[5];
            if (s.Length == 7 && s[6] == "compose" && req.HttpMethod == "POST")
            {
                Count("compose");
                await ComposeAsync(req, res, bucket, objects, key);
                return;
            }
            if (s.Length == 11 && s[6] == "rewriteTo")
            {
                Count("rewrite");
                await RewriteAsync(res, bucket, objects, key, s[8], s[10], q);
                return;
            }
            objects.TryGetValue(key, out var blob);
            if (q.TryGetValue("ifGenerationMatch", out var want) && (blob is null ? want != "0" : blob.Generation.ToString(CultureInfo.InvariantCulture) != want))
            {
                await ErrorAsync(res, 412, "At least one of the pre-conditions you specified did not hold.");
                return;
            }
            switch (req.HttpMethod)
            {
                case "GET" when blob is null:
                case "DELETE" when blob is null:
                case "PATCH" when blob is null:
                    await ErrorAsync(res, 404, $"No such object: {bucket}/{key}");
                    return;
                case "GET" when q.GetValueOrDefault("alt") == "media":
                    Count("media");
                    await MediaAsync(req, res, blob!);
                    return;
                case "GET":
                    Count("get");
                    await JsonAsync(res, Resource(bucket, key, blob!));
                    return;
                case "DELETE":
                    Count("delete");
                    objects.TryRemove(key, out _);
                    res.StatusCode = 204;
                    res.Close();
                    return;
                case "PATCH":
                    Count("patch");
                    var patch = JsonNode.Parse(await new StreamReader(req.InputStream).ReadToEndAsync())!.AsObject();
                    var metadata = new Dictionary<string, string>(blob!.Metadata);
                    if (patch["metadata"] is JsonObject m)
                    {
                        foreach (var (k, v) in m)
                        {
                            if (v is null) metadata.Remove(k);
                            else metadata[k] = v.GetValue<string>();
                        }
                    }
                    var updated = blob with
                    {
                        Metadata = metadata,
                        Updated = DateTimeOffset.UtcNow,
                        ContentType = (string?)patch["contentType"] ?? blob.ContentType,
                        ContentEncoding = patch.ContainsKey("contentEncoding") ? (string?)patch["contentEncoding"] : blob.ContentEncoding,
                    };
                    objects[key] = updated;
                    await JsonAsync(res, Resource(bucket, key, updated));
                    return;
            }
            await ErrorAsync(res, 400, $"unsupported {req.HttpMethod}");
        }
        catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException)
        {
            // The client went away.
        }
    }

    private static async Task ListAsync(HttpListenerResponse res, string bucket, ConcurrentDictionary<string, Blob> objects, Dictionary<string, string> q)
    {
        string prefix = q.GetValueOrDefault("prefix") ?? "";
        string? delimiter = q.TryGetValue("delimiter", out var d) && d.Length > 0 ? d : null;
        int max = q.TryGetValue("maxResults", out var mr) ? Math.Clamp(int.Parse(mr, CultureInfo.InvariantCulture), 1, 1000) : 1000;
        var entries = new SortedDictionary<string, Blob?>(StringComparer.Ordinal);
        foreach (var (key, blob) in objects)
        {
            if (!key.StartsWith(prefix, StringComparison.Ordinal)) continue;
            int at = delimiter is null ? -1 : key.IndexOf(delimiter, prefix.Length, StringComparison.Ordinal);
            if (at >= 0) entries[key[..(at + delimiter!.Length)]] = null;
            else entries[key] = blob;
        }
        int start = q.TryGetValue("pageToken", out var token) ? int.Parse(Encoding.UTF8.GetString(Convert.FromBase64String(token)), CultureInfo.InvariantCulture) : 0;
        var page = entries.Skip(start).Take(max).ToList();
        var body = new JsonObject { ["kind"] = "storage#objects" };
        var items = new JsonArray(page.Where(e => e.Value is not null).Select(e => (JsonNode)Resource(bucket, e.Key, e.Value!)).ToArray());
        var prefixes = new JsonArray(page.Where(e => e.Value is null).Select(e => (JsonNode)JsonValue.Create(e.Key)).ToArray());
        if (items.Count > 0) body["items"] = items;
        if (prefixes.Count > 0) body["prefixes"] = prefixes;
        if (start + max < entries.Count) body["nextPageToken"] = Convert.ToBase64String(Encoding.UTF8.GetBytes((start + max).ToString(CultureInfo.InvariantCulture)));
        await JsonAsync(res, body);
    }

    private async Task MediaAsync(HttpListenerRequest req, HttpListenerResponse res, Blob blob)
    {
        long size = blob.Data.Length;
        long from = 0, to = size - 1;
        bool partial = false;
        if (req.Headers["Range"] is { } range && range.StartsWith("bytes=", StringComparison.Ordinal))
        {
            var parts = range[6..].Split('-');
            from = long.Parse(parts[0], CultureInfo.InvariantCulture);
            to = parts[1].Length > 0 ? Math.Min(long.Parse(parts[1], CultureInfo.InvariantCulture), size - 1) : size - 1;
            if (from >= size)
            {
                res.Headers["Content-Range"] = $"bytes */{size}";
                await ErrorAsync(res, 416, "The requested range cannot be satisfied.");
                return;
            }
            partial = true;
        }
        res.StatusCode = partial ? 206 : 200;
        res.ContentType = blob.ContentType ?? "application/octet-stream";
        if (blob.ContentEncoding is { } enc) res.Headers["Content-Encoding"] = enc;
        res.Headers["x-goog-generation"] = blob.Generation.ToString(CultureInfo.InvariantCulture);
        res.Headers["x-goog-hash"] = "crc32c=" + CloudMount.Core.Storage.Crc32C.ToBase64(CloudMount.Core.Storage.Crc32C.Compute(blob.Data))
            + (blob.Composite ? "" : ",md5=" + Convert.ToBase64String(MD5.HashData(blob.Data)));
        foreach (var (k, v) in blob.Metadata) res.Headers["x-goog-meta-" + k] = v;
        res.Headers["Last-Modified"] = blob.Updated.ToString("R", CultureInfo.InvariantCulture);
        if (partial) res.Headers["Content-Range"] = $"bytes {from}-{to}/{size}";
        res.ContentLength64 = to - from + 1;
        var served = blob.Data.AsMemory((int)from, (int)(to - from + 1));
        if (CorruptReads && served.Length > 0)
        {
            var copy = served.ToArray();
            copy[copy.Length / 2] ^= 0x10;
            served = copy;
        }
        await res.OutputStream.WriteAsync(served);
        res.Close();
    }

    private Blob NewBlob(byte[] data, JsonObject resource) => new(data, Interlocked.Increment(ref _generation), DateTimeOffset.UtcNow,
        (string?)resource["contentType"] ?? "application/octet-stream", (string?)resource["contentEncoding"],
        resource["metadata"] is JsonObject m ? m.ToDictionary(kv => kv.Key, kv => kv.Value?.GetValue<string>() ?? "") : []);

    /// <summary>Stores an upload unless its md5Hash disagrees (400, as the service answers).</summary>
    private async Task StoreAsync(HttpListenerResponse res, string bucket, ConcurrentDictionary<string, Blob> objects, JsonObject resource, byte[] data)
    {
        string key = (string?)resource["name"] ?? "";
        if ((string?)resource["md5Hash"] is { } md5 && md5 != Convert.ToBase64String(MD5.HashData(data)))
        {
            await ErrorAsync(res, 400, "Provided MD5 hash does not match the calculated MD5 hash of the data.");
            return;
        }
        if (CorruptUploads) data = [(byte)'\r', (byte)'\n', .. data];
        var blob = NewBlob(data, resource);
        objects[key] = blob;
        await JsonAsync(res, Resource(bucket, key, blob!));
    }

    private async Task UploadAsync(HttpListenerRequest req, HttpListenerResponse res, string bucket, ConcurrentDictionary<string, Blob> objects, Dictionary<string, string> q)
    {
        string type = q.GetValueOrDefault("uploadType") ?? "";
        if (q.TryGetValue("upload_id", out var id))
        {
            Count("chunk");
            await ChunkAsync(req, res, bucket, objects, id);
            return;
        }
        Count("upload:" + type);
        switch (type)
        {
            case "media":
            {
                var ms = new MemoryStream();
                await req.InputStream.CopyToAsync(ms);
                await StoreAsync(res, bucket, objects, new JsonObject { ["name"] = q.GetValueOrDefault("name"), ["contentType"] = req.ContentType }, ms.ToArray());
                return;
            }
            case "multipart":
            {
                var ms = new MemoryStream();
                await req.InputStream.CopyToAsync(ms);
                string boundary = req.ContentType!.Split("boundary=")[1].Trim('"');
                var (json, data) = SplitMultipart(ms.ToArray(), boundary);
                await StoreAsync(res, bucket, objects, JsonNode.Parse(json)!.AsObject(), data);
                return;
            }
            case "resumable":
            {
                var resource = JsonNode.Parse(await new StreamReader(req.InputStream).ReadToEndAsync())!.AsObject();
                long total = long.TryParse(req.Headers["X-Upload-Content-Length"], out long t) ? t : -1;
                string session = Guid.NewGuid().ToString("n");
                _sessions[session] = new Session(bucket, resource, total);
                res.StatusCode = 200;
                res.Headers["Location"] = $"{Endpoint}upload/storage/v1/b/{Uri.EscapeDataString(bucket)}/o?uploadType=resumable&upload_id={session}";
                res.ContentLength64 = 0;
                res.Close();
                return;
            }
        }
        await ErrorAsync(res, 400, $"unknown uploadType '{type}'");
    }

    private async Task ChunkAsync(HttpListenerRequest req, HttpListenerResponse res, string bucket, ConcurrentDictionary<string, Blob> objects, string id)
    {
        if (!_sessions.TryGetValue(id, out var session))
        {
            await ErrorAsync(res, 404, "No such upload session.");
            return;
        }
        // Content-Range: bytes A-B/TOTAL, or bytes */TOTAL for a status query.
        string range = req.Headers["Content-Range"] ?? "";
        var body = new MemoryStream();
        if (FailNextChunk && !range.Contains('*'))
        {
            FailNextChunk = false;
            var half = new byte[Math.Max(1, req.ContentLength64 / 2)];
            int got = await req.InputStream.ReadAtLeastAsync(half, half.Length, throwOnEndOfStream: false);
            await req.InputStream.CopyToAsync(Stream.Null);
            long start = long.Parse(range.Split(' ')[1].Split('-')[0], CultureInfo.InvariantCulture);
            lock (session)
            {
                if (start == session.Received.Length) session.Received.Write(half, 0, got / (256 * 1024) * (256 * 1024));
            }
            await ErrorAsync(res, 503, "Backend Error");
            return;
        }
        await req.InputStream.CopyToAsync(body);
        lock (session)
        {
            if (!range.Contains('*'))
            {
                long start = long.Parse(range.Split(' ')[1].Split('-')[0], CultureInfo.InvariantCulture);
                if (start == session.Received.Length)
                {
                    session.Received.Write(body.ToArray());
                }
            }
        }
        long have = session.Received.Length;
        if (have == session.Total)
        {
            _sessions.TryRemove(id, out _);
            await StoreAsync(res, bucket, objects, session.Resource, session.Received.ToArray());
            return;
        }
        res.StatusCode = 308;
        if (have > 0) res.Headers["Range"] = $"bytes=0-{have - 1}";
        res.ContentLength64 = 0;
        res.Close();
    }

    private static (string Json, byte[] Data) SplitMultipart(byte[] body, string boundary)
    {
        // --b\r\nheaders\r\n\r\nJSON\r\n--b\r\nheaders\r\n\r\nDATA\r\n--b--
        byte[] delimiter = Encoding.ASCII.GetBytes("--" + boundary);
        var parts = new List<byte[]>();
        int pos = IndexOf(body, delimiter, 0);
        while (pos >= 0)
        {
            int start = pos + delimiter.Length;
            if (start + 1 < body.Length && body[start] == '-' && body[start + 1] == '-') break;
            int next = IndexOf(body, delimiter, start);
            if (next < 0) break;
            var part = body.AsSpan(start, next - start);
            int headersEnd = part.IndexOf("\r\n\r\n"u8);
            var content = part[(headersEnd + 4)..];
            if (content.EndsWith("\r\n"u8)) content = content[..^2];
            parts.Add(content.ToArray());
            pos = next;
        }
        return (Encoding.UTF8.GetString(parts[0]), parts[1]);
    }

    private static int IndexOf(byte[] haystack, byte[] needle, int from)
    {
        int i = haystack.AsSpan(from).IndexOf(needle);
        return i < 0 ? -1 : from + i;
    }

    /// <summary>objects.compose: the sources' bytes in order (at most 32) as a new object with the destination resource.</summary>
    private async Task ComposeAsync(HttpListenerRequest req, HttpListenerResponse res, string bucket, ConcurrentDictionary<string, Blob> objects, string key)
    {
        var body = JsonNode.Parse(await new StreamReader(req.InputStream).ReadToEndAsync())!.AsObject();
        var sources = body["sourceObjects"]!.AsArray().Select(o => (string)o!["name"]!).ToList();
        if (sources.Count is 0 or > 32)
        {
            await ErrorAsync(res, 400, "The number of source components provided must be between 1 and 32.");
            return;
        }
        var data = new MemoryStream();
        foreach (string source in sources)
        {
            if (!objects.TryGetValue(source, out var part))
            {
                await ErrorAsync(res, 404, $"No such object: {bucket}/{source}");
                return;
            }
            data.Write(part.Data);
        }
        var resource = body["destination"] as JsonObject ?? new JsonObject();
        resource["name"] = key;
        var blob = NewBlob(data.ToArray(), resource) with { Composite = true };
        objects[key] = blob;
        await JsonAsync(res, Resource(bucket, key, blob));
    }

    private async Task RewriteAsync(HttpListenerResponse res, string bucket, ConcurrentDictionary<string, Blob> objects, string source, string destBucket, string destination, Dictionary<string, string> q)
    {
        if (!objects.TryGetValue(source, out var blob))
        {
            await ErrorAsync(res, 404, $"No such object: {bucket}/{source}");
            return;
        }
        long size = blob.Data.Length;
        // Large objects take more than one call, as the service documents: the client must loop on rewriteToken.
        long done = q.TryGetValue("rewriteToken", out var token) ? long.Parse(token, CultureInfo.InvariantCulture) : 0;
        long step = Math.Max(1, 1024 * 1024);
        done = Math.Min(size, done + step);
        var body = new JsonObject
        {
            ["kind"] = "storage#rewriteResponse",
            ["totalBytesRewritten"] = done.ToString(CultureInfo.InvariantCulture),
            ["objectSize"] = size.ToString(CultureInfo.InvariantCulture),
            ["done"] = done == size,
        };
        if (done == size)
        {
            var copy = blob with { Generation = Interlocked.Increment(ref _generation), Updated = DateTimeOffset.UtcNow };
            _buckets[destBucket][destination] = copy;
            body["resource"] = Resource(destBucket, destination, copy);
        }
        else
        {
            body["rewriteToken"] = done.ToString(CultureInfo.InvariantCulture);
        }
        await JsonAsync(res, body);
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        _listener.Close();
        await _loop.ConfigureAwait(false);
    }
}
