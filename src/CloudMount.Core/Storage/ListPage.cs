namespace CloudMount.Core.Storage;

/// <summary>
/// One page of a prefix listing, in the order the service returned it (byte order of the UTF-8 keys for S3, Swift and GCS).
/// </summary>
/// <param name="Objects">Objects whose keys start with the prefix and, with a delimiter, hold no delimiter after the prefix.</param>
/// <param name="CommonPrefixes">With a delimiter: each distinct <c>prefix + segment + delimiter</c> that rolls up deeper keys ("subdirectories").</param>
/// <param name="NextPageToken">Opaque token for the next page, or <c>null</c> when this is the last page.</param>
public sealed record ListPage(IReadOnlyList<ObjectInfo> Objects, IReadOnlyList<string> CommonPrefixes, string? NextPageToken)
{
    /// <summary>An empty last page.</summary>
    public static ListPage Empty { get; } = new([], [], null);
}

/// <summary>
/// A LIST request: the S3 ListObjectsV2 / Swift container GET / GCS objects.list shape.
/// </summary>
/// <param name="Prefix">Only keys starting with this string are returned; empty for the whole bucket.</param>
/// <param name="Delimiter">Usually <c>/</c>; <c>null</c> for a flat, recursive listing.</param>
/// <param name="PageToken">The <see cref="ListPage.NextPageToken"/> of the previous page, or <c>null</c> for the first page.</param>
/// <param name="MaxKeys">Upper bound on objects plus common prefixes in the page (services cap it at 1,000).</param>
public sealed record ListRequest(string Prefix, string? Delimiter = "/", string? PageToken = null, int MaxKeys = 1000);
