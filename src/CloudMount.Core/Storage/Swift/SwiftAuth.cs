using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace CloudMount.Core.Storage.Swift;

/// <summary>A Swift token and the storage URL (the account's endpoint) it is good for.</summary>
/// <param name="Token">The X-Auth-Token value.</param>
/// <param name="StorageUrl">The account URL, e.g. <c>https://host/v1/AUTH_project</c>, without a trailing slash.</param>
public sealed record SwiftSession(string Token, Uri StorageUrl);

/// <summary>
/// How to get a Swift token, read from the environment as python-swiftclient reads it: auth v1 with
/// <c>ST_AUTH</c>, <c>ST_USER</c>, <c>ST_KEY</c> (tempauth, swauth, Rackspace Cloud Files' v1.0), or Keystone v3
/// password auth with <c>OS_AUTH_URL</c>, <c>OS_USERNAME</c>, <c>OS_PASSWORD</c>, <c>OS_PROJECT_NAME</c>,
/// <c>OS_USER_DOMAIN_NAME</c>, <c>OS_PROJECT_DOMAIN_NAME</c> (both default <c>Default</c>) and
/// <c>OS_REGION_NAME</c>. <c>OS_STORAGE_URL</c> with <c>OS_AUTH_TOKEN</c> use a token as given.
/// </summary>
public abstract record SwiftAuth
{
    /// <summary>Where the credentials came from, for the log (never the secret).</summary>
    public abstract string Source { get; }

    /// <summary>Gets a fresh token.</summary>
    /// <exception cref="AccessDeniedException">The service refused the credentials (401/403).</exception>
    /// <exception cref="ConnectionFailedException">The auth service could not be reached or stayed silent.</exception>
    /// <exception cref="TransientStoreException">The auth service answered 408, 429 or 5xx.</exception>
    /// <exception cref="InvalidResponseException">The answer lacked the token or the storage URL.</exception>
    public abstract Task<SwiftSession> AuthenticateAsync(HttpClient http, CancellationToken cancellationToken);

    /// <summary>Reads the environment (python-swiftclient's variable names); <c>null</c> when nothing is set.</summary>
    /// <exception cref="StoreUrlException">Some but not all of a method's variables are set.</exception>
    public static SwiftAuth? FromEnvironment(Func<string, string?>? env = null)
    {
        env ??= Environment.GetEnvironmentVariable;
        string? Get(string name) => env(name) is { Length: > 0 } v ? v : null;
        if (Get("OS_STORAGE_URL") is { } storage && Get("OS_AUTH_TOKEN") is { } token)
        {
            return new SwiftPresetToken(new Uri(storage.TrimEnd('/')), token);
        }
        if (Get("OS_AUTH_URL") is { } keystone)
        {
            return new SwiftKeystoneV3(new Uri(keystone.TrimEnd('/')),
                Get("OS_USERNAME") ?? throw new StoreUrlException("OS_AUTH_URL is set but OS_USERNAME is not"),
                Get("OS_PASSWORD") ?? throw new StoreUrlException("OS_AUTH_URL is set but OS_PASSWORD is not"),
                Get("OS_PROJECT_NAME") ?? Get("OS_TENANT_NAME") ?? throw new StoreUrlException("OS_AUTH_URL is set but OS_PROJECT_NAME is not"),
                Get("OS_USER_DOMAIN_NAME") ?? "Default",
                Get("OS_PROJECT_DOMAIN_NAME") ?? "Default",
                Get("OS_REGION_NAME"));
        }
        if (Get("ST_AUTH") is { } v1)
        {
            return new SwiftV1Auth(new Uri(v1),
                Get("ST_USER") ?? throw new StoreUrlException("ST_AUTH is set but ST_USER is not"),
                Get("ST_KEY") ?? throw new StoreUrlException("ST_AUTH is set but ST_KEY is not"));
        }
        return null;
    }

    internal static ConnectionFailedException Unreachable(Uri url, Exception e) => new($"cannot reach {url.GetLeftPart(UriPartial.Authority)}: {e.Message}", e);

    /// <summary>
    /// Sends an auth request: a refused, reset or silent connection is <see cref="ConnectionFailedException"/>, and an
    /// answer of 408, 429 or 5xx (a busy proxy) is <see cref="TransientStoreException"/>, both retried like any request.
    /// </summary>
    internal static async Task<HttpResponseMessage> SendAuthAsync(HttpClient http, HttpRequestMessage request, Uri url, string what, CancellationToken ct)
    {
        HttpResponseMessage r;
        try
        {
            r = await http.SendAsync(request, ct).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw Unreachable(url, e);
        }
        catch (TaskCanceledException e) when (!ct.IsCancellationRequested)
        {
            throw Unreachable(url, e);
        }
        int status = (int)r.StatusCode;
        if (status is 408 or 429 or >= 500)
        {
            r.Dispose();
            throw new TransientStoreException($"{what} at {url} answered {status} {r.ReasonPhrase}");
        }
        return r;
    }
}

/// <summary>Auth v1: GET the auth URL with X-Auth-User and X-Auth-Key; the answer's X-Storage-Url and X-Auth-Token.</summary>
public sealed record SwiftV1Auth(Uri AuthUrl, string User, string Key) : SwiftAuth
{
    /// <inheritdoc/>
    public override string Source => $"ST_AUTH {AuthUrl} as {User}";

    /// <inheritdoc/>
    public override async Task<SwiftSession> AuthenticateAsync(HttpClient http, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, AuthUrl);
        request.Headers.Add("X-Auth-User", User);
        request.Headers.Add("X-Auth-Key", Key);
        using (var r = await SendAuthAsync(http, request, AuthUrl, "Swift auth", cancellationToken).ConfigureAwait(false))
        {
            if (r.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
            {
                throw new AccessDeniedException($"Swift auth at {AuthUrl} refused {User}: wrong user or key ({(int)r.StatusCode})");
            }
            if (!r.IsSuccessStatusCode)
            {
                throw new InvalidResponseException($"Swift auth at {AuthUrl} answered {(int)r.StatusCode} {r.ReasonPhrase}");
            }
            string? token = r.Headers.TryGetValues("X-Auth-Token", out var t) ? t.FirstOrDefault()
                : r.Headers.TryGetValues("X-Storage-Token", out var st) ? st.FirstOrDefault() : null;
            string? url = r.Headers.TryGetValues("X-Storage-Url", out var u) ? u.FirstOrDefault() : null;
            if (token is null || url is null)
            {
                throw new InvalidResponseException($"Swift auth at {AuthUrl} gave no X-Auth-Token or X-Storage-Url: is it a v1 auth URL?");
            }
            return new SwiftSession(token, new Uri(url.TrimEnd('/')));
        }
    }
}

/// <summary>
/// Keystone v3 password auth: POST /v3/auth/tokens with a project-scoped password body (Keystone API v3,
/// "Password authentication with scoped authorization"); the token is the X-Subject-Token header, and the
/// storage URL the public endpoint of the catalog's <c>object-store</c> service in the region, if given.
/// </summary>
public sealed record SwiftKeystoneV3(Uri AuthUrl, string User, string Password, string Project, string UserDomain, string ProjectDomain, string? Region) : SwiftAuth
{
    /// <inheritdoc/>
    public override string Source => $"OS_AUTH_URL {AuthUrl} as {User} in project {Project}";

    /// <summary>The request body Keystone v3 documents for password auth scoped to a project.</summary>
    public JsonObject RequestBody() => new()
    {
        ["auth"] = new JsonObject
        {
            ["identity"] = new JsonObject
            {
                ["methods"] = new JsonArray("password"),
                ["password"] = new JsonObject
                {
                    ["user"] = new JsonObject { ["name"] = User, ["domain"] = new JsonObject { ["name"] = UserDomain }, ["password"] = Password },
                },
            },
            ["scope"] = new JsonObject
            {
                ["project"] = new JsonObject { ["name"] = Project, ["domain"] = new JsonObject { ["name"] = ProjectDomain } },
            },
        },
    };

    /// <inheritdoc/>
    public override async Task<SwiftSession> AuthenticateAsync(HttpClient http, CancellationToken cancellationToken)
    {
        string path = AuthUrl.AbsolutePath.TrimEnd('/');
        var tokens = new Uri(AuthUrl, (path.EndsWith("/v3", StringComparison.Ordinal) ? path : path + "/v3") + "/auth/tokens");
        using var request = new HttpRequestMessage(HttpMethod.Post, tokens) { Content = JsonContent.Create(RequestBody(), Util.CoreJsonContext.Default.JsonObject) };
        using (var r = await SendAuthAsync(http, request, AuthUrl, "Keystone", cancellationToken).ConfigureAwait(false))
        {
            if (r.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
            {
                throw new AccessDeniedException($"Keystone at {AuthUrl} refused {User} in project {Project} ({(int)r.StatusCode})");
            }
            if (!r.IsSuccessStatusCode)
            {
                throw new InvalidResponseException($"Keystone at {AuthUrl} answered {(int)r.StatusCode} {r.ReasonPhrase}");
            }
            string token = r.Headers.TryGetValues("X-Subject-Token", out var t) ? t.First()
                : throw new InvalidResponseException($"Keystone at {AuthUrl} gave no X-Subject-Token");
            string body = await r.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            return new SwiftSession(token, StorageUrlFromCatalog(body, Region, AuthUrl));
        }
    }

    /// <summary>The public <c>object-store</c> endpoint of a v3 token body's catalog, in <paramref name="region"/> if given.</summary>
    /// <exception cref="InvalidResponseException">No such endpoint, or a body that is not a v3 token.</exception>
    public static Uri StorageUrlFromCatalog(string tokenBody, string? region, Uri authUrl)
    {
        try
        {
            var catalog = JsonNode.Parse(tokenBody)?["token"]?["catalog"]?.AsArray()
                ?? throw new InvalidResponseException($"Keystone at {authUrl}: the token has no catalog");
            foreach (var service in catalog)
            {
                if ((string?)service?["type"] != "object-store") continue;
                foreach (var e in service["endpoints"]?.AsArray() ?? [])
                {
                    if ((string?)e?["interface"] != "public") continue;
                    string? r = (string?)e["region_id"] ?? (string?)e["region"];
                    if (region is not null && r != region) continue;
                    return new Uri(((string?)e["url"] ?? throw new InvalidResponseException("object-store endpoint without a url")).TrimEnd('/'));
                }
            }
        }
        catch (JsonException e)
        {
            throw new InvalidResponseException($"Keystone at {authUrl}: the token is not JSON: {e.Message}");
        }
        throw new InvalidResponseException($"Keystone at {authUrl}: no public object-store endpoint{(region is null ? "" : $" in region {region}")} in the catalog");
    }
}

/// <summary>A token and storage URL given as they are (OS_STORAGE_URL, OS_AUTH_TOKEN); cannot be renewed.</summary>
public sealed record SwiftPresetToken(Uri StorageUrl, string Token) : SwiftAuth
{
    /// <inheritdoc/>
    public override string Source => $"OS_STORAGE_URL {StorageUrl} with OS_AUTH_TOKEN";

    /// <inheritdoc/>
    public override Task<SwiftSession> AuthenticateAsync(HttpClient http, CancellationToken cancellationToken) =>
        Task.FromResult(new SwiftSession(Token, StorageUrl));
}
