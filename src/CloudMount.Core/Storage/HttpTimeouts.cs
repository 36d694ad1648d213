using System.Net;

namespace CloudMount.Core.Storage;

/// <summary>
/// How long the HTTP backends wait on a server before a request fails (and counts towards offline mode): the
/// mount's <c>--timeout</c> and <c>--idle-timeout</c>. Every wait on the network has one of these bounds, so a stalled
/// server (a stopped process, a silent connection) fails a request instead of holding it for minutes.
/// </summary>
public sealed record HttpTimeouts
{
    /// <summary>20 s to the first byte of an answer, 30 s of silence inside a body, 10 s to connect.</summary>
    public static HttpTimeouts Default { get; } = new();

    /// <summary>
    /// From the moment a request is sent (its last body byte written, or its start when it has no body) to the first
    /// byte of the answer; also bounds the time to get a connection and send the headers.
    /// </summary>
    public TimeSpan FirstByte { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>Longest wait for the server to take or give the next bytes of a body once it is flowing.</summary>
    public TimeSpan Idle { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Longest wait for a TCP connection.</summary>
    public TimeSpan Connect { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>The HttpClient every HTTP backend uses (Swift, GCS, web servers, and the S3 and Azure SDKs' transports).</summary>
public static class StoreHttp
{
    /// <summary>
    /// A client whose requests fail within <paramref name="timeouts"/> on a stalled server (<see cref="StallGuardHandler"/>):
    /// no automatic decompression (encoded objects are served as stored), 64 connections per server, no overall
    /// timeout of its own; small bodies go without <c>Expect: 100-continue</c> (<see cref="ExpectContinueHandler"/>).
    /// </summary>
    public static HttpClient CreateClient(HttpTimeouts timeouts, bool allowRedirects = true) =>
        new(CreateHandler(timeouts, allowRedirects), disposeHandler: true) { Timeout = Timeout.InfiniteTimeSpan };

    /// <summary>The handler of <see cref="CreateClient"/>, for SDKs that take a handler or build their own client.</summary>
    public static HttpMessageHandler CreateHandler(HttpTimeouts timeouts, bool allowRedirects = true) =>
        new ExpectContinueHandler(new StallGuardHandler(new SocketsHttpHandler
        {
            ConnectTimeout = timeouts.Connect,
            AutomaticDecompression = DecompressionMethods.None,
            AllowAutoRedirect = allowRedirects,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(50),
            MaxConnectionsPerServer = 64,
        }, timeouts));
}
