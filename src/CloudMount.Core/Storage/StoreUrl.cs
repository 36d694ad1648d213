namespace CloudMount.Core.Storage;

/// <summary>A URL that does not name a store we can open; the message is one line for the user.</summary>
public sealed class StoreUrlException(string message) : Exception(message);

/// <summary>
/// A parsed store URL: <c>s3://bucket/prefix</c>, <c>file:///abs/dir</c> (or <c>file://relative/dir</c>),
/// <c>mem://name/prefix</c>. The scheme picks the backend.
/// </summary>
/// <param name="Scheme">Lower-case scheme without <c>://</c>.</param>
/// <param name="Bucket">Bucket or store name; for <c>file</c>, the whole path.</param>
/// <param name="Path">Key or prefix inside the bucket, without a leading <c>/</c> (empty for the root).</param>
public sealed record StoreUrl(string Scheme, string Bucket, string Path)
{
    /// <summary>Schemes this build can open.</summary>
    public static IReadOnlyList<string> Schemes { get; } = ["s3", "gs", "swift", "az", "http", "https", "file", "mem"];

    /// <summary>Parses a URL.</summary>
    /// <exception cref="StoreUrlException">Unknown scheme, missing bucket, or characters a bucket name cannot have.</exception>
    public static StoreUrl Parse(string url)
    {
        int sep = url.IndexOf("://", StringComparison.Ordinal);
        if (sep <= 0)
        {
            throw new StoreUrlException($"'{url}' is not a store URL: expected SCHEME://BUCKET/PATH with a scheme of {string.Join(", ", Schemes.Select(s => s + "://"))}");
        }
        string scheme = url[..sep].ToLowerInvariant();
        string rest = url[(sep + 3)..];
        if (!Schemes.Contains(scheme))
        {
            throw new StoreUrlException($"unknown scheme '{scheme}://' in '{url}': use one of {string.Join(", ", Schemes.Select(s => s + "://"))}");
        }
        if (scheme == "file")
        {
            if (rest.StartsWith("localhost/", StringComparison.Ordinal)) rest = rest["localhost".Length..];
            if (rest.Length == 0)
            {
                throw new StoreUrlException($"'{url}' names no directory: use file:///absolute/path or file://relative/path");
            }
            return new StoreUrl(scheme, rest, "");
        }
        int slash = rest.IndexOf('/');
        string bucket = slash < 0 ? rest : rest[..slash];
        string path = slash < 0 ? "" : rest[(slash + 1)..];
        if (bucket.Length == 0)
        {
            throw new StoreUrlException($"'{url}' names no bucket: expected {scheme}://BUCKET/PATH");
        }
        if (scheme is "http" or "https")
        {
            // The bucket is the host (and port); the path is the base under which keys live.
            if (!Uri.TryCreate(url, UriKind.Absolute, out var web) || web.Host.Length == 0)
            {
                throw new StoreUrlException($"'{url}' is not a valid {scheme} URL");
            }
            return new StoreUrl(scheme, web.Authority, Uri.UnescapeDataString(web.AbsolutePath.TrimStart('/')));
        }
        if (scheme == "s3" && !IsValidS3Bucket(bucket))
        {
            throw new StoreUrlException($"'{bucket}' in '{url}' is not a valid bucket name (3-63 characters: letters, digits, '.', '-', '_')");
        }
        return new StoreUrl(scheme, bucket, path);
    }

    /// <summary>S3 bucket names: 3-63 of letters, digits, dot, hyphen (and underscore, which some S3-compatible stores allow).</summary>
    public static bool IsValidS3Bucket(string name) =>
        name.Length is >= 3 and <= 63 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_')
        && char.IsAsciiLetterOrDigit(name[0]) && char.IsAsciiLetterOrDigit(name[^1]);

    /// <summary>The path as a directory prefix: empty, or ending in <c>/</c>.</summary>
    public string PathAsPrefix => Path.Length == 0 || Path.EndsWith('/') ? Path : Path + "/";

    /// <inheritdoc/>
    public override string ToString() => Scheme == "file" ? $"file://{Bucket}" : $"{Scheme}://{Bucket}/{Path}";
}
