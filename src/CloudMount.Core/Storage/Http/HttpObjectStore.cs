using System.Net;
using System.Net.Http.Headers;

namespace CloudMount.Core.Storage.Http;

/// <summary>
/// Any web server, read-only: keys are paths under a base URL. Listings come from the server's index pages
/// (<see cref="IndexParser"/>: nginx and Apache autoindex HTML, nginx's JSON autoindex, and the S3 XML listing a
/// public bucket's https endpoint gives), with a HEAD only for entries whose size the index does not state
/// exactly; reads are range GETs pinned with If-Match to the ETag seen (RFC 9110 §13.1.1); writes throw
/// <see cref="ReadOnlyStoreException"/> (EROFS on a mount).
/// </summary>
public sealed class HttpObjectStore : IObjectStore, IReportsInnerRequests
{
    private readonly HttpClient _http;
    private readonly Uri _base;
    private readonly bool _bucketListings;

    /// <summary>Creates a store whose keys are paths under <paramref name="baseUrl"/>.</summary>
    /// <param name="baseUrl">An http or https URL; a trailing slash is added.</param>
    /// <param name="timeouts">How long to wait on a silent server; default <see cref="HttpTimeouts.Default"/>.</param>
    /// <param name="bucketListings">
    /// <paramref name="baseUrl"/> is a bucket of an S3-style public endpoint (CloudFiles' <c>use_https</c>:
    /// <c>https://s3.amazonaws.com/BUCKET/</c>, <c>https://storage.googleapis.com/BUCKET/</c>), listed with
    /// <c>GET /BUCKET?prefix=P&amp;delimiter=/</c> (ListBucketResult XML) instead of index pages.
    /// </param>
    public HttpObjectStore(Uri baseUrl, HttpTimeouts? timeouts = null, bool bucketListings = false)
    {
        _bucketListings = bucketListings;
        _base = new Uri(baseUrl.AbsoluteUri.EndsWith('/') ? baseUrl.AbsoluteUri : baseUrl.AbsoluteUri + "/");
        _http = StoreHttp.CreateClient(timeouts ?? HttpTimeouts.Default, allowRedirects: false);
        Name = _base.AbsoluteUri.TrimEnd('/');
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public Action<Decorators.RequestKind>? InnerRequest { get; set; }

    /// <inheritdoc/>
    public StoreCapabilities Capabilities { get; } = new() { CanWrite = false, ServerSideCopy = false, Metadata = false };

    private Uri UriOf(string key) => new(_base, string.Join('/', key.Split('/').Select(Uri.EscapeDataString)));

    private Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, HttpCompletionOption completion, CancellationToken ct) =>
        HttpExchange.SendAsync(_http, request, completion, _base, ct);

    private Exception Fail(HttpResponseMessage r, string key, string? ifMatch = null)
    {
        using (r)
        {
            int status = (int)r.StatusCode;
            return status switch
            {
                404 or 410 => new ObjectNotFoundException(key),
                412 => new PreconditionFailedException(key, ifMatch),
                401 or 403 => new AccessDeniedException($"{UriOf(key)}: access denied ({status})"),
                408 or 429 or >= 500 => new TransientStoreException($"{UriOf(key)}: {status} {r.ReasonPhrase}"),
                _ => new InvalidResponseException($"{UriOf(key)}: unexpected {status} {r.ReasonPhrase}"),
            };
        }
    }

    /// <summary>
    /// Lists by reading index pages: with a delimiter, the one directory that holds the prefix; without, every
    /// directory under it. Entries are sorted by key; a page token is the index of the next entry.
    /// </summary>
    /// <exception cref="BucketNotFoundException">The directory listed has no index page (404).</exception>
    /// <exception cref="InvalidResponseException">An index page that none of the known formats describes.</exception>
    public async Task<ListPage> ListAsync(ListRequest request, CancellationToken cancellationToken)
    {
        int slash = request.Prefix.LastIndexOf('/');
        string directory = slash < 0 ? "" : request.Prefix[..(slash + 1)];
        var objects = new List<ObjectInfo>();
        var prefixes = new List<string>();
        if (request.Delimiter == "/")
        {
            var entries = await IndexAsync(directory, mustExist: true, cancellationToken).ConfigureAwait(false);
            foreach (var e in entries.Where(e => e.Key.StartsWith(request.Prefix, StringComparison.Ordinal)))
            {
                if (e.IsDirectory) prefixes.Add(e.Key);
                else objects.Add(await DescribeAsync(e, cancellationToken).ConfigureAwait(false));
            }
        }
        else if (request.Delimiter is null)
        {
            var pending = new Queue<string>([directory]);
            while (pending.TryDequeue(out var dir))
            {
                foreach (var e in await IndexAsync(dir, mustExist: dir == directory, cancellationToken).ConfigureAwait(false))
                {
                    if (e.IsDirectory)
                    {
                        if (e.Key.StartsWith(request.Prefix, StringComparison.Ordinal) || request.Prefix.StartsWith(e.Key, StringComparison.Ordinal)) pending.Enqueue(e.Key);
                    }
                    else if (e.Key.StartsWith(request.Prefix, StringComparison.Ordinal))
                    {
                        objects.Add(await DescribeAsync(e, cancellationToken).ConfigureAwait(false));
                    }
                }
            }
        }
        else
        {
            throw new NotSupportedException($"{Name}: web server indexes list by '/' only");
        }
        objects.Sort((a, b) => KeyComparer.Instance.Compare(a.Key, b.Key));
        prefixes.Sort(KeyComparer.Instance);
        return Page(objects, prefixes, request);
    }

    private static ListPage Page(List<ObjectInfo> objects, List<string> prefixes, ListRequest request)
    {
        // One merged, ordered run of keys and prefixes, sliced by the token.
        var all = objects.Select(o => (o.Key, Obj: (ObjectInfo?)o)).Concat(prefixes.Select(p => (Key: p, Obj: (ObjectInfo?)null)))
            .OrderBy(x => x.Key, KeyComparer.Instance).ToList();
        int start = request.PageToken is { } t && int.TryParse(t, out int i) ? i : 0;
        int take = Math.Max(1, request.MaxKeys);
        var slice = all.Skip(start).Take(take).ToList();
        string? next = start + take < all.Count ? (start + take).ToString(System.Globalization.CultureInfo.InvariantCulture) : null;
        return new ListPage(slice.Where(x => x.Obj is not null).Select(x => x.Obj!).ToList(), slice.Where(x => x.Obj is null).Select(x => x.Key).ToList(), next);
    }

    /// <summary>An index entry as an object; HEADs it when the index gave no exact size.</summary>
    private async Task<ObjectInfo> DescribeAsync(IndexEntry e, CancellationToken ct)
    {
        if (e.Size is { } size && e.Modified is { } modified)
        {
            return new ObjectInfo(e.Key, size, e.ETag, modified);
        }
        InnerRequest?.Invoke(Decorators.RequestKind.Head);
        return await HeadAsync(e.Key, ct).ConfigureAwait(false) ?? new ObjectInfo(e.Key, e.Size ?? 0, e.ETag, e.Modified ?? DateTimeOffset.UnixEpoch);
    }

    private async Task<IReadOnlyList<IndexEntry>> IndexAsync(string directory, bool mustExist, CancellationToken ct)
    {
        if (_bucketListings) return await BucketIndexAsync(directory, ct).ConfigureAwait(false);
        var url = directory.Length == 0 ? _base : UriOf(directory);
        using var r = await SendAsync(new HttpRequestMessage(HttpMethod.Get, url), HttpCompletionOption.ResponseContentRead, ct).ConfigureAwait(false);
        if (r.StatusCode == HttpStatusCode.NotFound)
        {
            if (mustExist) throw new BucketNotFoundException(url.AbsoluteUri);
            return [];
        }
        if (!r.IsSuccessStatusCode) throw Fail(r, directory);
        string body = await r.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
        try
        {
            return IndexParser.Parse(body, r.Content.Headers.ContentType?.MediaType, directory);
        }
        catch (FormatException e)
        {
            throw new InvalidResponseException($"{url}: cannot read the index page: {e.Message}");
        }
    }

    /// <summary>One directory of a public bucket, through its ListBucketResult pages.</summary>
    private async Task<IReadOnlyList<IndexEntry>> BucketIndexAsync(string directory, CancellationToken ct)
    {
        string bucketUrl = _base.AbsoluteUri.TrimEnd('/');
        var all = new List<IndexEntry>();
        string? marker = null;
        bool first = true;
        do
        {
            // The first page is the LIST the caller counts; further pages are ours to report.
            if (!first) InnerRequest?.Invoke(Decorators.RequestKind.List);
            first = false;
            var url = new Uri($"{bucketUrl}?prefix={Uri.EscapeDataString(directory)}&delimiter=%2F" + (marker is null ? "" : $"&marker={Uri.EscapeDataString(marker)}"));
            using var r = await SendAsync(new HttpRequestMessage(HttpMethod.Get, url), HttpCompletionOption.ResponseContentRead, ct).ConfigureAwait(false);
            if (r.StatusCode == HttpStatusCode.NotFound) throw new BucketNotFoundException(Uri.UnescapeDataString(_base.Segments[^1].TrimEnd('/')));
            if (!r.IsSuccessStatusCode) throw Fail(r, directory);
            try
            {
                var (entries, next) = IndexParser.ParseBucketListing(await r.Content.ReadAsStringAsync(ct).ConfigureAwait(false), "");
                all.AddRange(entries);
                marker = next;
            }
            catch (FormatException e)
            {
                throw new InvalidResponseException($"{url}: cannot read the bucket listing: {e.Message}");
            }
        }
        while (marker is not null);
        return all;
    }

    /// <inheritdoc/>
    public async Task<ObjectInfo?> HeadAsync(string key, CancellationToken cancellationToken)
    {
        if (key.Length == 0 || key.EndsWith('/')) return null;
        using var r = await SendAsync(new HttpRequestMessage(HttpMethod.Head, UriOf(key)), HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        // A directory answers with a redirect to its slash form: no object by that name.
        if (r.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Gone || (int)r.StatusCode is >= 300 and < 400) return null;
        if (!r.IsSuccessStatusCode) throw Fail(r, key);
        return InfoFrom(key, r, r.Content.Headers.ContentLength ?? 0);
    }

    private static ObjectInfo InfoFrom(string key, HttpResponseMessage r, long size) =>
        new(key, size, r.Headers.ETag is { IsWeak: false } etag ? etag.Tag : null, r.Content.Headers.LastModified ?? DateTimeOffset.UnixEpoch)
        {
            ContentType = r.Content.Headers.ContentType?.ToString(),
            ContentEncoding = r.Content.Headers.ContentEncoding.Count > 0 ? string.Join(", ", r.Content.Headers.ContentEncoding) : null,
        };

    /// <inheritdoc/>
    public async Task<ObjectReadResult> ReadAsync(string key, ByteRange range, string? ifMatch, CancellationToken cancellationToken)
    {
        if (range.Length == 0)
        {
            var head = await HeadAsync(key, cancellationToken).ConfigureAwait(false) ?? throw new ObjectNotFoundException(key);
            if (ifMatch is not null && head.ETag != ifMatch) throw new PreconditionFailedException(key, ifMatch);
            return new ObjectReadResult(Stream.Null, head, new ByteRange(range.Offset, 0));
        }
        var request = new HttpRequestMessage(HttpMethod.Get, UriOf(key));
        if (!range.IsWholeObject) request.Headers.Range = new RangeHeaderValue(range.Offset, range.LastByte);
        if (ifMatch is not null) request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
        // Ask for the bytes as stored: our codec layer decodes, and a transcoding server would ignore Range.
        request.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("identity"));
        var r = await SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        if (r.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
        {
            r.Dispose();
            var head = await HeadAsync(key, cancellationToken).ConfigureAwait(false) ?? throw new ObjectNotFoundException(key);
            if (ifMatch is not null && head.ETag != ifMatch) throw new PreconditionFailedException(key, ifMatch);
            return new ObjectReadResult(Stream.Null, head, new ByteRange(head.Size, 0));
        }
        if ((int)r.StatusCode is >= 300 and < 400)
        {
            r.Dispose();
            throw new ObjectNotFoundException(key);
        }
        if (!r.IsSuccessStatusCode) throw Fail(r, key, ifMatch);
        long length = r.Content.Headers.ContentLength ?? -1;
        if (!HttpExchange.TryServedRange(r, range, length, out long offset, out long total))
        {
            r.Dispose();
            throw new InvalidResponseException($"{UriOf(key)}: the server ignored the Range header");
        }
        if (length < 0)
        {
            r.Dispose();
            throw new InvalidResponseException($"{UriOf(key)}: the answer has no Content-Length");
        }
        var info = InfoFrom(key, r, total);
        if (ifMatch is not null && info.ETag is { } served && served != ifMatch)
        {
            r.Dispose();
            throw new PreconditionFailedException(key, ifMatch);
        }
        var body = await r.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        return new ObjectReadResult(new HttpResponseBody(body, r), info, new ByteRange(offset, length));
    }

    private ReadOnlyStoreException ReadOnly(string what) => new($"{Name} is a web server: {what} is not possible (read-only)");

    /// <inheritdoc/>
    public Task<ObjectInfo> WriteAsync(string key, ObjectContent content, ObjectWriteOptions options, CancellationToken cancellationToken) =>
        throw ReadOnly($"writing {key}");

    /// <inheritdoc/>
    public Task DeleteAsync(string key, CancellationToken cancellationToken) => throw ReadOnly($"deleting {key}");

    /// <inheritdoc/>
    public Task<ObjectInfo> CopyAsync(string sourceKey, string destinationKey, CancellationToken cancellationToken) =>
        throw ReadOnly($"copying {sourceKey}");

    /// <inheritdoc/>
    public ValueTask DisposeAsync()
    {
        _http.Dispose();
        return ValueTask.CompletedTask;
    }

}
