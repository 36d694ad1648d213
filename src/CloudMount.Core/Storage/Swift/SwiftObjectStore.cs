using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using CloudMount.Core.Storage.Decorators;

namespace CloudMount.Core.Storage.Swift;

/// <summary>
/// A container of OpenStack Swift or Rackspace Cloud Files through Swift's own API (Object Storage API v1):
/// container GET with <c>format=json</c>, prefix, delimiter (<c>subdir</c> entries) and marker/limit paging;
/// object HEAD, GET with Range pinned by If-Match, PUT with an ETag (MD5) the server checks, server-side copy
/// (PUT with X-Copy-From), DELETE, and metadata as <c>X-Object-Meta-*</c>. A 401 from an expired token is
/// answered by authenticating once more and repeating the request. Static and dynamic large objects read as
/// one object (the server joins the segments); their ETag is not an MD5 of the bytes and is flagged so.
/// </summary>
/// <remarks>
/// Limits, from the Swift documentation: one PUT holds at most 5 GiB, so larger files (and the mount's large
/// files, which go up while they are written) are static large objects (<see cref="SwiftLargeObjects"/>); a POST replaces all of an object's metadata and drops its
/// Content-Encoding unless it is sent again, so <see cref="UpdateMetadataAsync"/> always sends the whole set.
/// </remarks>
public sealed partial class SwiftObjectStore : IObjectStore, IReportsInnerRequests
{
    /// <summary>Swift's default max_file_size: 5 GiB.</summary>
    public const long MaxObjectBytes = 5L * 1024 * 1024 * 1024;

    private readonly HttpClient _http;
    private readonly SwiftAuth _auth;
    private readonly string _container;
    private readonly SemaphoreSlim _authGate = new(1, 1);
    private SwiftSession? _session;
    private readonly long _singlePutBytes;
    private readonly Writing.UploadOptions _largeObjectUploads;
    private bool? _segmentsExist;   // CONTAINER_segments: unknown until first needed, then remembered

    /// <summary>Creates a store over <paramref name="container"/>; no request is made until the first operation.</summary>
    /// <param name="container">The container name.</param>
    /// <param name="auth">How to get a token.</param>
    /// <param name="timeouts">How long to wait on a silent server (<see cref="HttpTimeouts"/>); default <see cref="HttpTimeouts.Default"/>.</param>
    /// <param name="singlePutBytes">Largest object sent in one PUT (at most 5 GiB); larger ones become static large objects.</param>
    /// <param name="segmentBytes">Segment size of large objects written here, in bytes.</param>
    public SwiftObjectStore(string container, SwiftAuth auth, HttpTimeouts? timeouts = null, long singlePutBytes = MaxObjectBytes, long segmentBytes = 64 * Bytes.MiB)
    {
        _container = container;
        _auth = auth;
        _singlePutBytes = Math.Min(singlePutBytes, MaxObjectBytes);
        _largeObjectUploads = new Writing.UploadOptions(segmentBytes, 4, ThresholdBytes: 0);
        Multipart = new SwiftLargeObjects(this);
        Capabilities = new() { Md5ETags = true, MaxSinglePutBytes = _singlePutBytes };
        _http = StoreHttp.CreateClient(timeouts ?? HttpTimeouts.Default);
        Name = $"swift://{container}";
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public Action<RequestKind>? InnerRequest { get; set; }

    /// <inheritdoc/>
    public StoreCapabilities Capabilities { get; }

    /// <inheritdoc/>
    public IMultipartUploads Multipart { get; }

    /// <summary>Where the credentials came from.</summary>
    public string CredentialSource => _auth.Source;

    private static string EscapeKey(string key) => string.Join('/', key.Split('/').Select(Uri.EscapeDataString));

    private Uri ObjectUri(SwiftSession s, string key) => new($"{s.StorageUrl.AbsoluteUri.TrimEnd('/')}/{Uri.EscapeDataString(_container)}/{EscapeKey(key)}");

    private async Task<SwiftSession> SessionAsync(SwiftSession? stale, CancellationToken ct)
    {
        await _authGate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (_session is null || ReferenceEquals(_session, stale))
            {
                _session = await _auth.AuthenticateAsync(_http, ct).ConfigureAwait(false);
            }
            return _session;
        }
        finally
        {
            _authGate.Release();
        }
    }

    /// <summary>
    /// Sends a request made by <paramref name="make"/> with the token; on 401 authenticates again and sends a new
    /// one once. Transport failures become <see cref="ConnectionFailedException"/>.
    /// </summary>
    private async Task<HttpResponseMessage> SendAsync(Func<SwiftSession, HttpRequestMessage> make, HttpCompletionOption completion, CancellationToken ct)
    {
        var session = _session ?? await SessionAsync(null, ct).ConfigureAwait(false);
        for (int attempt = 0; ; attempt++)
        {
            using var request = make(session);
            request.Headers.Add("X-Auth-Token", session.Token);
            var r = await HttpExchange.SendAsync(_http, request, completion, session.StorageUrl, ct).ConfigureAwait(false);
            if (r.StatusCode != HttpStatusCode.Unauthorized || attempt > 0 || _auth is SwiftPresetToken)
            {
                return r;
            }
            // The token expired (or was revoked): authenticate again, once.
            r.Dispose();
            session = await SessionAsync(session, ct).ConfigureAwait(false);
        }
    }

    /// <summary>Maps a failed response to our exceptions (and disposes it).</summary>
    private Exception Fail(HttpResponseMessage r, string? key, string? ifMatch = null)
    {
        using (r)
        {
            int status = (int)r.StatusCode;
            string where = key is null ? Name : $"{Name}/{key}";
            return status switch
            {
                404 when key is null => new BucketNotFoundException(_container),
                404 => new ObjectNotFoundException(key!),
                412 => new PreconditionFailedException(key ?? "", ifMatch),
                401 or 403 => new AccessDeniedException($"access to {where} denied ({status}): the token or the account's rights do not allow it"),
                422 => new ChecksumMismatchException($"{where}: the server's MD5 of the body differs from the ETag sent (422)"),
                408 or 429 or 498 or >= 500 => new TransientStoreException($"{where}: {status} {r.ReasonPhrase}"),
                _ => new InvalidResponseException($"{where}: unexpected {status} {r.ReasonPhrase}"),
            };
        }
    }

    private static string? Header(HttpResponseMessage r, string name) =>
        r.Headers.TryGetValues(name, out var v) || r.Content.Headers.TryGetValues(name, out v) ? v.FirstOrDefault() : null;

    /// <summary>An object's description from a HEAD or GET answer.</summary>
    private static ObjectInfo InfoFrom(string key, HttpResponseMessage r, long size)
    {
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, values) in r.Headers.Concat(r.Content.Headers))
        {
            if (name.StartsWith("X-Object-Meta-", StringComparison.OrdinalIgnoreCase))
            {
                metadata[name["X-Object-Meta-".Length..].ToLowerInvariant()] = Uri.UnescapeDataString(values.FirstOrDefault() ?? "");
            }
        }
        bool large = Header(r, "X-Static-Large-Object") is { } slo && slo.Equals("true", StringComparison.OrdinalIgnoreCase)
            || Header(r, "X-Object-Manifest") is not null;
        return new ObjectInfo(key, size, NormalizeETag(Header(r, "ETag")), r.Content.Headers.LastModified ?? DateTimeOffset.UnixEpoch)
        {
            ContentType = r.Content.Headers.ContentType?.ToString(),
            ContentEncoding = r.Content.Headers.ContentEncoding.Count > 0 ? string.Join(", ", r.Content.Headers.ContentEncoding) : null,
            Metadata = metadata.Count > 0 ? metadata : null,
            ETagIsContentMd5 = large ? false : null,
        };
    }

    /// <summary>Swift sends plain objects' ETags bare and large objects' quoted; we keep them bare, as listings give them.</summary>
    private static string? NormalizeETag(string? etag) => etag?.Trim('"');

    /// <inheritdoc/>
    /// <exception cref="BucketNotFoundException">The container does not exist.</exception>
    public async Task<ListPage> ListAsync(ListRequest request, CancellationToken cancellationToken)
    {
        int limit = Math.Clamp(request.MaxKeys, 1, 10000);
        string query = $"format=json&limit={limit}&prefix={Uri.EscapeDataString(request.Prefix)}"
            + (request.Delimiter is { } d ? $"&delimiter={Uri.EscapeDataString(d)}" : "")
            + (request.PageToken is { } marker ? $"&marker={Uri.EscapeDataString(marker)}" : "");
        using var r = await SendAsync(s => new HttpRequestMessage(HttpMethod.Get, $"{s.StorageUrl.AbsoluteUri.TrimEnd('/')}/{Uri.EscapeDataString(_container)}?{query}"),
            HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
        if (r.StatusCode == HttpStatusCode.NoContent) return ListPage.Empty;
        if (!r.IsSuccessStatusCode) throw Fail(r, null);
        var objects = new List<ObjectInfo>();
        var prefixes = new List<string>();
        string? last = null;
        int entries = 0;
        try
        {
            using var doc = JsonDocument.Parse(await r.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false));
            foreach (var e in doc.RootElement.EnumerateArray())
            {
                entries++;
                if (e.TryGetProperty("subdir", out var subdir))
                {
                    string p = subdir.GetString()!;
                    prefixes.Add(p);
                    // Resume after everything under this subdir: the delimiter's successor ends the run of its keys.
                    last = request.Delimiter is { Length: 1 } dl && p.EndsWith(dl[0]) ? p[..^1] + (char)(dl[0] + 1) : p;
                    continue;
                }
                string name = e.GetProperty("name").GetString()!;
                var modified = DateTime.SpecifyKind(DateTime.Parse(e.GetProperty("last_modified").GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal), DateTimeKind.Utc);
                // A static large object lists the manifest's own hash, and its real ETag (the one HEAD, GET and
                // If-Match use) as slo_etag.
                bool slo = e.TryGetProperty("slo_etag", out var sloETag);
                objects.Add(new ObjectInfo(name, e.GetProperty("bytes").GetInt64(), NormalizeETag((slo ? sloETag : e.GetProperty("hash")).GetString()), new DateTimeOffset(modified))
                {
                    ContentType = e.TryGetProperty("content_type", out var ct) ? ct.GetString() : null,
                    ETagIsContentMd5 = slo ? false : null,
                });
                last = name;
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            throw new InvalidResponseException($"{Name}: the container listing is not Swift's JSON: {e.Message}");
        }
        await ResolveDynamicManifestsAsync(objects, cancellationToken).ConfigureAwait(false);
        return new ListPage(objects, prefixes, entries == limit ? last : null);
    }

    /// <summary>
    /// A dynamic large object lists as its zero-byte manifest; only a HEAD tells its size and ETag. Zero-byte
    /// entries that are not directory markers (rare) are HEADed, a few at a time, and replaced when they are manifests.
    /// </summary>
    private async Task ResolveDynamicManifestsAsync(List<ObjectInfo> objects, CancellationToken ct)
    {
        var empty = Enumerable.Range(0, objects.Count).Where(i => objects[i].Size == 0 && !objects[i].IsDirectoryMarker).ToList();
        if (empty.Count == 0) return;
        await Parallel.ForEachAsync(empty, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = ct }, async (i, token) =>
        {
            InnerRequest?.Invoke(RequestKind.Head);
            using var r = await SendAsync(s => new HttpRequestMessage(HttpMethod.Head, ObjectUri(s, objects[i].Key)), HttpCompletionOption.ResponseHeadersRead, token).ConfigureAwait(false);
            if (r.IsSuccessStatusCode && Header(r, "X-Object-Manifest") is not null)
            {
                objects[i] = InfoFrom(objects[i].Key, r, r.Content.Headers.ContentLength ?? 0);
            }
        }).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async Task<ObjectInfo?> HeadAsync(string key, CancellationToken cancellationToken)
    {
        using var r = await SendAsync(s => new HttpRequestMessage(HttpMethod.Head, ObjectUri(s, key)), HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        if (r.StatusCode == HttpStatusCode.NotFound)
        {
            // Tell a missing object from a missing container, as S3 does with NoSuchBucket.
            await EnsureContainerAsync(cancellationToken).ConfigureAwait(false);
            return null;
        }
        if (!r.IsSuccessStatusCode) throw Fail(r, key);
        return InfoFrom(key, r, r.Content.Headers.ContentLength ?? 0);
    }

    private async Task EnsureContainerAsync(CancellationToken ct)
    {
        using var r = await SendAsync(s => new HttpRequestMessage(HttpMethod.Head, $"{s.StorageUrl.AbsoluteUri.TrimEnd('/')}/{Uri.EscapeDataString(_container)}"),
            HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
        if (r.StatusCode == HttpStatusCode.NotFound) throw new BucketNotFoundException(_container);
    }

    /// <inheritdoc/>
    public async Task<ObjectReadResult> ReadAsync(string key, ByteRange range, string? ifMatch, CancellationToken cancellationToken)
    {
        if (range.Length == 0)
        {
            var head = await HeadAsync(key, cancellationToken).ConfigureAwait(false) ?? throw new ObjectNotFoundException(key);
            if (ifMatch is not null && head.ETag != NormalizeETag(ifMatch)) throw new PreconditionFailedException(key, ifMatch);
            return new ObjectReadResult(Stream.Null, head, new ByteRange(range.Offset, 0));
        }
        var r = await SendAsync(s =>
        {
            var m = new HttpRequestMessage(HttpMethod.Get, ObjectUri(s, key));
            if (!range.IsWholeObject) m.Headers.Range = new RangeHeaderValue(range.Offset, range.LastByte);
            if (ifMatch is not null) m.Headers.TryAddWithoutValidation("If-Match", ifMatch);
            return m;
        }, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        if (r.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
        {
            r.Dispose();
            var head = await HeadAsync(key, cancellationToken).ConfigureAwait(false) ?? throw new ObjectNotFoundException(key);
            if (ifMatch is not null && head.ETag != NormalizeETag(ifMatch)) throw new PreconditionFailedException(key, ifMatch);
            return new ObjectReadResult(Stream.Null, head, new ByteRange(head.Size, 0));
        }
        if (r.StatusCode == HttpStatusCode.NotFound)
        {
            r.Dispose();
            await EnsureContainerAsync(cancellationToken).ConfigureAwait(false);
            throw new ObjectNotFoundException(key);
        }
        if (!r.IsSuccessStatusCode) throw Fail(r, key, ifMatch);
        long length = r.Content.Headers.ContentLength ?? throw Fail(r, key);
        if (!HttpExchange.TryServedRange(r, range, length, out long offset, out long total))
        {
            r.Dispose();
            throw new InvalidResponseException($"{Name}: the server ignored the Range header reading {key}");
        }
        var info = InfoFrom(key, r, total);
        if (ifMatch is not null && info.ETag != NormalizeETag(ifMatch))
        {
            r.Dispose();
            throw new PreconditionFailedException(key, ifMatch);
        }
        var body = await r.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        return new ObjectReadResult(new HttpResponseBody(body, r), info, new ByteRange(offset, length));
    }

    private static void AddWriteHeaders(HttpRequestMessage m, ObjectWriteOptions options, bool forPost)
    {
        if (options.ContentEncoding is { } enc) m.Content!.Headers.TryAddWithoutValidation("Content-Encoding", enc);
        if (options.ContentType is { } type) m.Content!.Headers.TryAddWithoutValidation("Content-Type", type);
        else if (forPost) m.Content!.Headers.ContentType = null;
        foreach (var (k, v) in options.Metadata ?? new Dictionary<string, string>())
        {
            // Header values must be ASCII: non-ASCII metadata is sent percent-encoded and decoded on read.
            m.Headers.TryAddWithoutValidation("X-Object-Meta-" + k, v.All(char.IsAscii) && !v.Contains('%') ? v : Uri.EscapeDataString(v));
        }
    }

    /// <inheritdoc/>
    /// <exception cref="ObjectStoreException">More than 5 GiB (one PUT's limit).</exception>
    public async Task<ObjectInfo> WriteAsync(string key, ObjectContent content, ObjectWriteOptions options, CancellationToken cancellationToken)
    {
        if (content.Length > _singlePutBytes)
        {
            return await Writing.ObjectWriter.WriteAsync(this, key, content, options, _largeObjectUploads, cancellationToken).ConfigureAwait(false);
        }
        // A large object replaced by a plain one leaves its segments behind unless they are deleted.
        var oldSegments = await SegmentsIfAnyAsync(key, cancellationToken).ConfigureAwait(false);
        var streams = new List<Stream>();
        try
        {
            using var r = await SendAsync(s =>
            {
                var body = content.OpenRead();
                streams.Add(body);
                var m = new HttpRequestMessage(HttpMethod.Put, ObjectUri(s, key)) { Content = new StreamContent(body) };
                m.Content.Headers.ContentLength = content.Length;
                if (options.ContentMd5 is { } md5) m.Headers.TryAddWithoutValidation("ETag", Convert.ToHexStringLower(md5));
                AddWriteHeaders(m, options, forPost: false);
                return m;
            }, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
            if (r.StatusCode == HttpStatusCode.NotFound) throw new BucketNotFoundException(_container);
            if (!r.IsSuccessStatusCode) throw Fail(r, key);
            foreach (string path in oldSegments) await DeletePathAsync(path, cancellationToken).ConfigureAwait(false);
            return new ObjectInfo(key, content.Length, NormalizeETag(Header(r, "ETag")), r.Content.Headers.LastModified ?? S3.S3ObjectStore.TruncatedNow())
            {
                ContentType = options.ContentType,
                ContentEncoding = options.ContentEncoding,
                Metadata = options.Metadata,
            };
        }
        finally
        {
            foreach (var s in streams) await s.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <inheritdoc/>
    /// <remarks>Deleting a static large object deletes its segments too, after the manifest.</remarks>
    public async Task DeleteAsync(string key, CancellationToken cancellationToken)
    {
        var segments = await SegmentsIfAnyAsync(key, cancellationToken).ConfigureAwait(false);
        await DeleteObjectAsync(key, cancellationToken).ConfigureAwait(false);
        foreach (string path in segments) await DeletePathAsync(path, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The segments of <paramref name="key"/> if it is a static large object; costs a request only when the
    /// segment container exists (checked once per store).
    /// </summary>
    private async Task<IReadOnlyList<string>> SegmentsIfAnyAsync(string key, CancellationToken ct)
    {
        if (_segmentsExist is null)
        {
            InnerRequest?.Invoke(RequestKind.Head);
            using var r = await SendAsync(s => new HttpRequestMessage(HttpMethod.Head, $"{s.StorageUrl.AbsoluteUri.TrimEnd('/')}/{Uri.EscapeDataString(SegmentContainer)}"),
                HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
            _segmentsExist = r.IsSuccessStatusCode;
        }
        return _segmentsExist == true ? await LargeObjectSegmentsAsync(key, ct).ConfigureAwait(false) : [];
    }

    private async Task DeleteObjectAsync(string key, CancellationToken cancellationToken)
    {
        using var r = await SendAsync(s => new HttpRequestMessage(HttpMethod.Delete, ObjectUri(s, key)), HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
        if (r.StatusCode == HttpStatusCode.NotFound)
        {
            await EnsureContainerAsync(cancellationToken).ConfigureAwait(false);
            return;
        }
        if (!r.IsSuccessStatusCode) throw Fail(r, key);
    }

    /// <inheritdoc/>
    public async Task<ObjectInfo> CopyAsync(string sourceKey, string destinationKey, CancellationToken cancellationToken)
    {
        using (var r = await SendAsync(s =>
        {
            var m = new HttpRequestMessage(HttpMethod.Put, ObjectUri(s, destinationKey)) { Content = new ByteArrayContent([]) };
            m.Headers.TryAddWithoutValidation("X-Copy-From", $"/{Uri.EscapeDataString(_container)}/{EscapeKey(sourceKey)}");
            return m;
        }, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false))
        {
            if (r.StatusCode == HttpStatusCode.NotFound)
            {
                await EnsureContainerAsync(cancellationToken).ConfigureAwait(false);
                throw new ObjectNotFoundException(sourceKey);
            }
            if (!r.IsSuccessStatusCode) throw Fail(r, sourceKey);
        }
        return await HeadAsync(destinationKey, cancellationToken).ConfigureAwait(false) ?? throw new ObjectNotFoundException(destinationKey);
    }

    /// <summary>
    /// Replaces the object's metadata with a POST, which replaces all of it: the whole set is sent, with the
    /// Content-Type and Content-Encoding, which a POST would otherwise drop. Swift's POST takes no If-Match, so
    /// the version is checked with a HEAD just before.
    /// </summary>
    public async Task<ObjectInfo> UpdateMetadataAsync(string key, ObjectWriteOptions options, string? ifMatch, CancellationToken cancellationToken)
    {
        var head = await HeadAsync(key, cancellationToken).ConfigureAwait(false) ?? throw new ObjectNotFoundException(key);
        if (ifMatch is not null && head.ETag != NormalizeETag(ifMatch)) throw new PreconditionFailedException(key, ifMatch);
        using (var r = await SendAsync(s =>
        {
            var m = new HttpRequestMessage(HttpMethod.Post, ObjectUri(s, key)) { Content = new ByteArrayContent([]) };
            AddWriteHeaders(m, options with { ContentType = options.ContentType ?? head.ContentType }, forPost: true);
            return m;
        }, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false))
        {
            if (!r.IsSuccessStatusCode) throw Fail(r, key);
        }
        return await HeadAsync(key, cancellationToken).ConfigureAwait(false) ?? throw new ObjectNotFoundException(key);
    }

    /// <inheritdoc/>
    public ValueTask DisposeAsync()
    {
        _http.Dispose();
        _authGate.Dispose();
        return ValueTask.CompletedTask;
    }

}
