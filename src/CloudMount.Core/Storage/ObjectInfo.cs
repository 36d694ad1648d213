namespace CloudMount.Core.Storage;

/// <summary>
/// What a store knows about one object: the shape of a LIST entry or a HEAD answer.
/// </summary>
/// <param name="Key">The full key inside the bucket or container, for example <c>data/run1/a.csv</c>.</param>
/// <param name="Size">Size in bytes as the store presents it: the stored size, except through
/// <see cref="Codecs.CodecObjectStore"/>, which presents an encoded object's decoded size (-1 when unknown).</param>
/// <param name="ETag">The entity tag exactly as the service returned it (S3 quotes it), or <c>null</c> when the service gives none.</param>
/// <param name="LastModified">When the object was last written, as the service reports it (UTC).</param>
public sealed record ObjectInfo(string Key, long Size, string? ETag, DateTimeOffset LastModified)
{
    /// <summary>The Content-Type, when the answer carried it (HEAD and GET do; most LISTs do not).</summary>
    public string? ContentType { get; init; }

    /// <summary>The Content-Encoding (for example <c>gzip</c>, <c>br</c>, <c>zstd</c>) when known.</summary>
    public string? ContentEncoding { get; init; }

    /// <summary>User metadata with lower-case names and no service prefix (<c>x-amz-meta-</c> is stripped), when the answer carried it.</summary>
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }

    /// <summary>The storage class (for example <c>STANDARD</c>, <c>GLACIER</c>) when the answer carried it.</summary>
    public string? StorageClass { get; init; }

    /// <summary>
    /// <c>false</c> when the service says the ETag is not the MD5 of the bytes although it looks like one (a Swift
    /// static or dynamic large object's manifest ETag); <c>null</c> to judge by its form.
    /// </summary>
    public bool? ETagIsContentMd5 { get; init; }

    /// <summary>
    /// The MD5 of the whole object's bytes (32 lower-case hex digits) when the service states it apart from the ETag
    /// (GCS <c>md5Hash</c> and <c>x-goog-hash: md5=</c>, Azure <c>Content-MD5</c>); <c>null</c> when not stated.
    /// </summary>
    public string? Md5 { get; init; }

    /// <summary>The CRC32C (Castagnoli) of the whole object's bytes when the service states it (GCS <c>crc32c</c>, <c>x-goog-hash: crc32c=</c>).</summary>
    public uint? Crc32c { get; init; }

    /// <summary>True when the object is a directory marker: a key ending in <c>/</c>.</summary>
    public bool IsDirectoryMarker => Key.EndsWith('/');
}
