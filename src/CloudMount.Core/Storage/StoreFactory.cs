using System.Collections.Concurrent;
using CloudMount.Core.Storage.Decorators;
using CloudMount.Core.Storage.LocalFs;
using CloudMount.Core.Storage.Memory;
using CloudMount.Core.Storage.S3;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CloudMount.Core.Storage;

/// <summary>How to connect, beside the URL.</summary>
public sealed record StoreConnectOptions
{
    /// <summary>S3-compatible endpoint (<c>--endpoint</c>), or <c>null</c> for AWS.</summary>
    public Uri? Endpoint { get; init; }

    /// <summary>Region (<c>--region</c>).</summary>
    public string? Region { get; init; }

    /// <summary>Unsigned requests (<c>--no-sign-request</c>).</summary>
    public bool Anonymous { get; init; }

    /// <summary>Retry policy of the decorated store.</summary>
    public RetryPolicy Retry { get; init; } = RetryPolicy.Default;

    /// <summary>How long an HTTP backend waits on a silent server (<c>--timeout</c>, <c>--idle-timeout</c>).</summary>
    public HttpTimeouts Timeouts { get; init; } = HttpTimeouts.Default;

    /// <summary>Home directory for credential files; <c>null</c> for $HOME.</summary>
    public string? Home { get; init; }

    /// <summary>Log sink.</summary>
    public ILoggerFactory Logs { get; init; } = NullLoggerFactory.Instance;

    /// <summary>
    /// Turn s3:// and gs:// URLs into their public https endpoints (or <see cref="Endpoint"/>), read-only and
    /// without credentials, as CloudFiles' <c>use_https</c> does.
    /// </summary>
    public bool UseHttps { get; init; }
}

/// <summary>
/// A store opened from a URL: the decorated store (retries, checksums, request counting) to use, the raw
/// backend (for start-up checks that must not retry), and the key or prefix the URL named inside it.
/// </summary>
public sealed class OpenedStore(StoreUrl url, IObjectStore store, IObjectStore backend, string path, RequestStats stats, string credentialSource) : IAsyncDisposable
{
    /// <summary>The parsed URL.</summary>
    public StoreUrl Url { get; } = url;
    /// <summary>Retrying, checking, counting store.</summary>
    public IObjectStore Store { get; } = store;
    /// <summary>The backend without decorators.</summary>
    public IObjectStore Backend { get; } = backend;
    /// <summary>Key or prefix the URL named (no leading '/').</summary>
    public string Path { get; } = path;
    /// <summary>Requests made through <see cref="Store"/>.</summary>
    public RequestStats Stats { get; } = stats;
    /// <summary>Where the credentials came from (never the secret itself).</summary>
    public string CredentialSource { get; } = credentialSource;

    /// <inheritdoc/>
    public ValueTask DisposeAsync() => Store.DisposeAsync();
}

/// <summary>
/// Opens stores by URL and stacks the decorators: ReadVerifying → Retrying → UploadVerifying → Counting → backend.
/// Reads are checked outside the retries (a resumed body is checked whole); uploads inside them (a mismatch is sent again).
/// </summary>
public static class StoreFactory
{
    private static readonly ConcurrentDictionary<string, MemoryObjectStore> MemoryStores = new();

    /// <summary>Opens the store a URL names. No request is made except, for S3, credential discovery.</summary>
    /// <exception cref="StoreUrlException">The URL is malformed or names a missing local directory.</exception>
    /// <exception cref="AccessDeniedException">No credentials could be found.</exception>
    public static async Task<OpenedStore> OpenAsync(string url, StoreConnectOptions options, CancellationToken cancellationToken)
    {
        var u = StoreUrl.Parse(url);
        Uri? publicBucket = null;
        if (options.UseHttps && u.Scheme is "s3" or "gs")
        {
            // CloudFiles' use_https: read a public bucket over plain https, without credentials or an SDK. Keys stay
            // relative to the bucket; the store's base is https://HOST/BUCKET/.
            var web = options.Endpoint ?? new Uri(u.Scheme == "s3" ? "https://s3.amazonaws.com/" : "https://storage.googleapis.com/");
            publicBucket = new Uri($"{web.GetLeftPart(UriPartial.Authority)}/{Uri.EscapeDataString(u.Bucket)}/");
            u = new StoreUrl(web.Scheme, web.Authority, u.Path);
        }
        IObjectStore backend;
        string path = u.Path;
        string credentials = "none needed";
        switch (u.Scheme)
        {
            case "mem":
                backend = MemoryStores.GetOrAdd(u.Bucket, name => new MemoryObjectStore(name));
                break;
            case "file":
                (string root, path) = SplitLocalPath(u.Bucket);
                backend = new LocalFsObjectStore(root);
                break;
            case "s3":
                var creds = await S3CredentialResolver.ResolveAsync(u.Bucket, options.Anonymous, options.Home, cancellationToken).ConfigureAwait(false);
                backend = new S3ObjectStore(u.Bucket, creds.Credentials, new S3StoreOptions
                {
                    Endpoint = options.Endpoint,
                    Region = options.Region ?? creds.Region,
                    Timeouts = options.Timeouts,
                });
                credentials = creds.Source;
                break;
            case "http" or "https":
                // The host is the bucket; the URL's path (unescaped) is the prefix, as for s3://.
                backend = new Http.HttpObjectStore(publicBucket ?? new Uri($"{u.Scheme}://{u.Bucket}/"), options.Timeouts, bucketListings: publicBucket is not null);
                break;
            case "gs":
                var (gcs, gcsSource) = await Gcs.GcsConnector.ConnectAsync(u.Bucket, options.Endpoint, options.Anonymous, options.Home, options.Timeouts, options.Logs, cancellationToken).ConfigureAwait(false);
                backend = gcs;
                credentials = gcsSource;
                break;
            case "az":
                var (containerClient, azureSource) = Azure.AzureConnector.Connect(u.Bucket, options.Endpoint, options.Anonymous, timeouts: options.Timeouts);
                backend = new Azure.AzureBlobObjectStore(containerClient);
                credentials = azureSource;
                break;
            case "swift":
                var auth = Swift.SwiftAuth.FromEnvironment()
                    ?? throw new StoreUrlException("no Swift credentials: set ST_AUTH, ST_USER and ST_KEY (auth v1), or OS_AUTH_URL, OS_USERNAME, OS_PASSWORD and OS_PROJECT_NAME (Keystone v3)");
                backend = new Swift.SwiftObjectStore(u.Bucket, auth, options.Timeouts);
                credentials = auth.Source;
                break;
            default:
                throw new StoreUrlException($"unknown scheme '{u.Scheme}'");
        }
        var stats = new RequestStats();
        if (backend is IReportsInnerRequests inner)
        {
            inner.InnerRequest = kind => stats.AddRequest(kind, ok: true, TimeSpan.Zero);
        }
        IObjectStore store = new ReadVerifyingObjectStore(new RetryingObjectStore(
            new UploadVerifyingObjectStore(new CountingObjectStore(backend, stats)),
            options.Retry.WithTimeouts(options.Timeouts), stats, options.Logs.CreateLogger("store")));
        return new OpenedStore(u, store, backend, path, stats, credentials);
    }

    /// <summary>
    /// Splits a local path into the store root and a key: an existing directory is the root itself (key empty);
    /// otherwise the root is the nearest existing ancestor directory and the rest is the key.
    /// </summary>
    /// <exception cref="StoreUrlException">No ancestor exists.</exception>
    public static (string Root, string Key) SplitLocalPath(string path)
    {
        string full = System.IO.Path.GetFullPath(path);
        bool trailing = path.EndsWith('/');
        string current = full.TrimEnd('/');
        var rest = new Stack<string>();
        while (!Directory.Exists(current.Length == 0 ? "/" : current))
        {
            int slash = current.LastIndexOf('/');
            if (slash < 0)
            {
                throw new StoreUrlException($"no directory of '{path}' exists");
            }
            rest.Push(current[(slash + 1)..]);
            current = current[..slash];
        }
        if (rest.Count == 0)
        {
            return (current.Length == 0 ? "/" : current, "");
        }
        string key = string.Join('/', rest) + (trailing ? "/" : "");
        return (current.Length == 0 ? "/" : current, key);
    }
}

/// <summary>A start-up check of a store failed; the message is one line for the user.</summary>
public sealed class StoreCheckException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Checks, before mounting, that the store answers and the credentials work: one LIST of at most one key under
/// the prefix on the raw backend, with a deadline, so that bad input fails within seconds. A server that answers but is
/// busy (5xx, 429, a 503 from Swift's auth) or resets a connection is asked again a few times within the deadline, with
/// the same random backoff as every request; one that cannot be reached or stays silent, refuses the credentials or has
/// no such bucket fails at once.
/// </summary>
public static class StoreProbe
{
    /// <summary>
    /// True for a failure of a server that is there: a 5xx or 429 answer, or a connection it reset or cut short. False
    /// for one that is not (refused, unknown host, unreachable network) or stays silent (a timeout), and for refusals.
    /// </summary>
    private static bool Answered(ObjectStoreException e)
    {
        if (e is TransientStoreException) return true;
        if (e is not ConnectionFailedException) return false;
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            if (x is TimeoutException) return false;
            if (x is System.Net.Sockets.SocketException se)
            {
                return se.SocketErrorCode is System.Net.Sockets.SocketError.ConnectionReset or System.Net.Sockets.SocketError.ConnectionAborted or System.Net.Sockets.SocketError.Shutdown;
            }
        }
        // No socket error underneath: the connection broke inside an answer (ended early, reset mid-body).
        return true;
    }

    /// <summary>Runs the check.</summary>
    /// <exception cref="StoreCheckException">The bucket is missing, the credentials are refused, the endpoint is unreachable or does not answer in time, or it answers garbage.</exception>
    public static async Task CheckAsync(OpenedStore store, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        var busy = new RetryPolicy { MaxAttempts = 5, BaseDelay = TimeSpan.FromSeconds(0.25), MaxDelay = TimeSpan.FromSeconds(2) };
        try
        {
            for (int attempt = 0; ; attempt++)
            {
                try
                {
                    await store.Backend.ListAsync(new ListRequest(store.Url.PathAsPrefix, "/", null, 1), cts.Token).ConfigureAwait(false);
                    return;
                }
                catch (ObjectStoreException e) when (attempt + 1 < busy.MaxAttempts && Answered(e))
                {
                    await Task.Delay(busy.DelayBefore(attempt), cts.Token).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new StoreCheckException($"{store.Backend.Name}: no answer within {timeout.TotalSeconds:0} s");
        }
        catch (BucketNotFoundException e)
        {
            throw new StoreCheckException($"{store.Backend.Name}: {e.Message}", e);
        }
        catch (ObjectStoreException e)
        {
            throw new StoreCheckException($"{store.Backend.Name}: {e.Message}", e);
        }
        catch (Exception e) when (e is HttpRequestException or IOException or System.Xml.XmlException or FormatException)
        {
            throw new StoreCheckException($"{store.Backend.Name}: unexpected answer: {e.Message}", e);
        }
    }
}
