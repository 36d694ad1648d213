namespace CloudMount.Core.Storage;

/// <summary>
/// The only thing the rest of CloudMount knows about a cloud: a flat namespace of keys holding immutable objects.
/// Every method is asynchronous and cancellable; errors are <see cref="ObjectStoreException"/> subtypes.
/// Implementations are thin translations of one service's API; retries, checksums and request counting are
/// decorators (see <c>Storage/Decorators</c>). Implementations must be safe for concurrent use.
/// </summary>
public interface IObjectStore : IAsyncDisposable
{
    /// <summary>A short name for logs, for example <c>s3://bucket</c>.</summary>
    string Name { get; }

    /// <summary>What this store can do.</summary>
    StoreCapabilities Capabilities { get; }

    /// <summary>Multipart uploads, or <c>null</c> when the store writes objects only whole.</summary>
    IMultipartUploads? Multipart => null;

    /// <summary>Lists one page of keys under a prefix, rolling deeper keys into common prefixes when a delimiter is given.</summary>
    /// <exception cref="BucketNotFoundException">The bucket does not exist.</exception>
    /// <exception cref="AccessDeniedException">The credentials were refused.</exception>
    Task<ListPage> ListAsync(ListRequest request, CancellationToken cancellationToken);

    /// <summary>Returns an object's metadata, or <c>null</c> when it does not exist.</summary>
    Task<ObjectInfo?> HeadAsync(string key, CancellationToken cancellationToken);

    /// <summary>
    /// Reads a range of an object. A range that starts at or past the end yields an empty stream, not an error.
    /// With <paramref name="ifMatch"/> the read fails rather than return bytes of another version.
    /// </summary>
    /// <param name="key">The object's key.</param>
    /// <param name="range">The bytes wanted.</param>
    /// <param name="ifMatch">The ETag the object must still have, or <c>null</c> to read whatever version is current.</param>
    /// <param name="cancellationToken">Cancels the request and the stream.</param>
    /// <exception cref="ObjectNotFoundException">The object does not exist.</exception>
    /// <exception cref="PreconditionFailedException">The object's ETag is no longer <paramref name="ifMatch"/>.</exception>
    Task<ObjectReadResult> ReadAsync(string key, ByteRange range, string? ifMatch, CancellationToken cancellationToken);

    /// <summary>
    /// Writes a whole object atomically: readers see the old object or the new one, never a mix or a part.
    /// Large content goes up as a multipart upload where the service has one.
    /// </summary>
    /// <returns>The new object's metadata, ETag included.</returns>
    /// <exception cref="ReadOnlyStoreException">The store cannot be written.</exception>
    Task<ObjectInfo> WriteAsync(string key, ObjectContent content, ObjectWriteOptions options, CancellationToken cancellationToken);

    /// <summary>Deletes an object. Deleting a missing object succeeds (S3 semantics).</summary>
    Task DeleteAsync(string key, CancellationToken cancellationToken);

    /// <summary>Copies an object inside the store (server-side where <see cref="StoreCapabilities.ServerSideCopy"/>), metadata included.</summary>
    /// <exception cref="ObjectNotFoundException">The source does not exist.</exception>
    Task<ObjectInfo> CopyAsync(string sourceKey, string destinationKey, CancellationToken cancellationToken);

    /// <summary>
    /// Replaces an object's Content-Type, Content-Encoding and user metadata, keeping its bytes. S3 does this by
    /// copying the object onto itself with <c>x-amz-metadata-directive: REPLACE</c> (the only way S3 changes
    /// metadata: "Copying an object" in the S3 user guide), so the object's Last-Modified changes; its ETag stays
    /// for single-part objects. Stores without metadata (<see cref="StoreCapabilities.Metadata"/> false) throw.
    /// </summary>
    /// <param name="key">The object.</param>
    /// <param name="options">The new Content-Type, Content-Encoding and metadata (all replace the old ones).</param>
    /// <param name="ifMatch">The ETag the object must still have, or <c>null</c>.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The object's new metadata.</returns>
    /// <exception cref="ObjectNotFoundException">The object does not exist.</exception>
    /// <exception cref="PreconditionFailedException">The object's ETag is no longer <paramref name="ifMatch"/>.</exception>
    /// <exception cref="NotSupportedException">The store keeps no metadata.</exception>
    Task<ObjectInfo> UpdateMetadataAsync(string key, ObjectWriteOptions options, string? ifMatch, CancellationToken cancellationToken) =>
        throw new NotSupportedException($"{Name} keeps no object metadata");
}
