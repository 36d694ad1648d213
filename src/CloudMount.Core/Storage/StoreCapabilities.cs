namespace CloudMount.Core.Storage;

/// <summary>
/// What a backend can do, declared rather than probed (rclone's features record). Decorators pass them through.
/// </summary>
public sealed record StoreCapabilities
{
    /// <summary>PUT/DELETE/COPY are possible.</summary>
    public bool CanWrite { get; init; } = true;

    /// <summary>Copies happen inside the service without moving bytes through us.</summary>
    public bool ServerSideCopy { get; init; } = true;

    /// <summary>Reads honour If-Match on an ETag, so a changed object is reported, never mixed with the old bytes.</summary>
    public bool ConditionalReads { get; init; } = true;

    /// <summary>Single-part ETags are the hex MD5 of the content, so whole-object reads can be checked.</summary>
    public bool Md5ETags { get; init; }

    /// <summary>
    /// Objects carry Content-Type, Content-Encoding and user metadata, and
    /// <see cref="IObjectStore.UpdateMetadataAsync"/> can change them.
    /// </summary>
    public bool Metadata { get; init; } = true;

    /// <summary>Largest object written in one request, in bytes; larger writes use multipart upload where supported.</summary>
    public long MaxSinglePutBytes { get; init; } = long.MaxValue;

    /// <summary>
    /// A listing of <c>dir/</c> includes the marker object <c>dir/</c> itself (S3, Swift, GCS). False where markers
    /// live outside their prefix (Azure's <c>hdi_isfolder</c> blob <c>dir</c>), so rmdir deletes the marker unseen.
    /// </summary>
    public bool MarkerInOwnListing { get; init; } = true;

    /// <summary>
    /// Every directory is a real folder (file://): a marker <c>dir/</c> exists for every prefix that holds keys,
    /// listed or not, and can only be deleted once empty.
    /// </summary>
    public bool RealFolders { get; init; }
}
