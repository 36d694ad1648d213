using Microsoft.Extensions.Logging;
using Google.Apis.Auth.OAuth2;

namespace CloudMount.Core.Storage.Gcs;

/// <summary>
/// Endpoint and credentials for <c>gs://BUCKET</c>. Endpoint: <c>--endpoint</c>, else
/// <c>STORAGE_EMULATOR_HOST</c> (as Google's client libraries read it; <c>host:port</c> means http), else
/// <c>https://storage.googleapis.com</c>. Credentials, first match: none with <c>--no-sign-request</c> or an
/// emulator; CloudFiles' secret files (<c>BUCKET-google-secret.json</c>, then <c>google-secret.json</c>, in
/// <c>~/.cloudvolume/secrets/</c> then <c>~/.cloudfiles/secrets/</c>), a service-account key; then
/// Google.Apis.Auth's application default credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud's ADC file, the
/// metadata server).
/// </summary>
public static class GcsConnector
{
    private const string Scope = "https://www.googleapis.com/auth/devstorage.full_control";

    /// <summary>The store and where its credentials came from.</summary>
    /// <exception cref="AccessDeniedException">No credentials found, or a secret file that cannot be read.</exception>
    public static async Task<(GcsObjectStore Store, string Source)> ConnectAsync(string bucket, Uri? endpoint, bool anonymous, string? home,
        HttpTimeouts timeouts, Microsoft.Extensions.Logging.ILoggerFactory logs, CancellationToken ct)
    {
        var log = logs.CreateLogger("gcs");
        string? emulator = Environment.GetEnvironmentVariable("STORAGE_EMULATOR_HOST") is { Length: > 0 } e ? e : null;
        var api = endpoint ?? (emulator is not null ? new Uri(emulator.Contains("://", StringComparison.Ordinal) ? emulator : "http://" + emulator) : new Uri("https://storage.googleapis.com"));
        if (anonymous || (endpoint is null && emulator is not null))
        {
            return (new GcsObjectStore(bucket, api, _ => Task.FromResult<string?>(null), timeouts: timeouts, logger: log), anonymous ? "anonymous" : $"none (STORAGE_EMULATOR_HOST {emulator})");
        }
        GoogleCredential credential;
        string source;
        home ??= Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        var secret = new[] { ".cloudvolume", ".cloudfiles" }
            .SelectMany(d => new[] { $"{bucket}-google-secret.json", "google-secret.json" }.Select(f => Path.Combine(home, d, "secrets", f)))
            .FirstOrDefault(File.Exists);
        try
        {
            if (secret is not null)
            {
#pragma warning disable CS0618 // FromFile: the file is the user's own service-account key, CloudFiles' convention.
                credential = GoogleCredential.FromFile(secret);
#pragma warning restore CS0618
                source = secret;
            }
            else
            {
                credential = await GoogleCredential.GetApplicationDefaultAsync(ct).ConfigureAwait(false);
                source = "Google application default credentials";
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException or Newtonsoft.Json.JsonException)
        {
            throw new AccessDeniedException($"no usable Google credentials for gs://{bucket}: {ex.Message.Split('\n')[0]} (set GOOGLE_APPLICATION_CREDENTIALS, put a key in ~/.cloudvolume/secrets/google-secret.json, or use --no-sign-request)", ex);
        }
        var access = (ITokenAccess)credential.CreateScoped(Scope);
        return (new GcsObjectStore(bucket, api, async token => await access.GetAccessTokenForRequestAsync(cancellationToken: token).ConfigureAwait(false), timeouts: timeouts, logger: log), source);
    }
}
