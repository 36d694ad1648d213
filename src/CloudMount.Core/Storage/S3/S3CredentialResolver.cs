using System.Text.Json;
using Amazon.Runtime;
using Amazon.Runtime.Credentials;

namespace CloudMount.Core.Storage.S3;

/// <summary>
/// Finds credentials for a bucket. Order, first match wins:
/// <list type="number">
/// <item>anonymous when asked for (<c>--no-sign-request</c>);</item>
/// <item>CloudFiles' secret files, as <c>cloudfiles/secrets.py</c> reads them: <c>BUCKET-aws-secret.json</c>,
/// then <c>aws-secret.json</c>, each looked for in <c>~/.cloudvolume/secrets/</c> and then
/// <c>~/.cloudfiles/secrets/</c>; JSON with <c>AWS_ACCESS_KEY_ID</c>, <c>AWS_SECRET_ACCESS_KEY</c> and optionally
/// <c>AWS_SESSION_TOKEN</c> and <c>AWS_DEFAULT_REGION</c>;</item>
/// <item>the AWS SDK's default chain: environment variables, the shared credentials and config files
/// (<c>AWS_PROFILE</c>), SSO, web identity, ECS and EC2 instance metadata.</item>
/// </list>
/// </summary>
public static class S3CredentialResolver
{
    /// <summary>Credentials and where they came from, for a log line that never shows the secret.</summary>
    /// <param name="Credentials">What to sign with (anonymous credentials sign nothing).</param>
    /// <param name="Source">For example <c>/home/u/.cloudvolume/secrets/aws-secret.json</c> or <c>AWS default chain</c>.</param>
    /// <param name="Region">A region the source names, or <c>null</c>.</param>
    public sealed record Resolved(AWSCredentials Credentials, string Source, string? Region);

    /// <summary>The folders CloudFiles reads secrets from, under <paramref name="home"/>.</summary>
    public static IReadOnlyList<string> SecretDirectories(string home) =>
        [Path.Combine(home, ".cloudvolume", "secrets"), Path.Combine(home, ".cloudfiles", "secrets")];

    /// <summary>Resolves credentials for <paramref name="bucket"/>.</summary>
    /// <param name="bucket">The bucket name, for the bucket-specific secret file.</param>
    /// <param name="anonymous">Use no credentials at all.</param>
    /// <param name="home">The home directory; <c>null</c> means <c>$HOME</c>.</param>
    /// <param name="cancellationToken">Bounds the default chain, which may ask the EC2 metadata service.</param>
    /// <exception cref="AccessDeniedException">No credentials anywhere, or a secret file that cannot be read.</exception>
    public static async Task<Resolved> ResolveAsync(string bucket, bool anonymous, string? home, CancellationToken cancellationToken)
    {
        if (anonymous)
        {
            return new Resolved(new AnonymousAWSCredentials(), "anonymous (unsigned requests)", null);
        }
        home ??= Environment.GetEnvironmentVariable("HOME") ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        foreach (string file in new[] { $"{bucket}-aws-secret.json", "aws-secret.json" })
        {
            foreach (string dir in SecretDirectories(home))
            {
                string path = Path.Combine(dir, file);
                if (File.Exists(path))
                {
                    return FromSecretFile(path);
                }
            }
        }
        try
        {
            var creds = await DefaultAWSCredentialsIdentityResolver.GetCredentialsAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
            return new Resolved(creds, "AWS default credential chain", null);
        }
        catch (Exception e) when (e is AmazonClientException or AmazonServiceException or TimeoutException)
        {
            throw new AccessDeniedException(
                $"no AWS credentials found: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, configure ~/.aws/credentials, write ~/.cloudvolume/secrets/aws-secret.json, or use --no-sign-request for a public bucket", e);
        }
    }

    /// <summary>Reads a CloudFiles secret file.</summary>
    /// <exception cref="AccessDeniedException">The file is not JSON or lacks the two keys.</exception>
    public static Resolved FromSecretFile(string path)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            string? Get(string name) => doc.RootElement.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            string? id = Get("AWS_ACCESS_KEY_ID");
            string? secret = Get("AWS_SECRET_ACCESS_KEY");
            if (string.IsNullOrEmpty(id) || string.IsNullOrEmpty(secret))
            {
                throw new AccessDeniedException($"{path} lacks AWS_ACCESS_KEY_ID or AWS_SECRET_ACCESS_KEY");
            }
            string? token = Get("AWS_SESSION_TOKEN");
            AWSCredentials creds = string.IsNullOrEmpty(token) ? new BasicAWSCredentials(id, secret) : new SessionAWSCredentials(id, secret, token);
            return new Resolved(creds, path, Get("AWS_DEFAULT_REGION"));
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
        {
            throw new AccessDeniedException($"cannot read credentials from {path}: {e.Message}", e);
        }
    }
}
