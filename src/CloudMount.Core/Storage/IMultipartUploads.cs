namespace CloudMount.Core.Storage;

/// <summary>
/// A store's multipart upload capability (S3 multipart upload; Swift SLO and GCS resumable uploads fit the same
/// shape): an object assembled from parts uploaded separately and in any order, which appears atomically at
/// <see cref="IMultipartUpload.CompleteAsync"/>. Exposed through <see cref="IObjectStore.Multipart"/>; <c>null</c>
/// there means the store writes objects only whole.
/// </summary>
public interface IMultipartUploads
{
    /// <summary>Smallest size of every part but the last, in bytes (S3: 5 MiB).</summary>
    long MinPartBytes { get; }

    /// <summary>Most parts in one upload (S3: 10,000).</summary>
    int MaxParts { get; }

    /// <summary>Starts an upload of <paramref name="key"/>; nothing is visible until it completes.</summary>
    Task<IMultipartUpload> StartAsync(string key, ObjectWriteOptions options, CancellationToken cancellationToken);

    /// <summary>
    /// Discards an upload this or an earlier process started and never finished, by its <see cref="IMultipartUpload.Id"/>
    /// (write-back recovery aborts the uploads of a mount that died). Succeeds when the upload is already gone.
    /// The default does nothing, for stores whose unfinished uploads leave nothing behind.
    /// </summary>
    Task AbortAsync(string key, string uploadId, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// The unfinished uploads of exactly <paramref name="key"/> the service knows, with when each was started
    /// (S3's ListMultipartUploads), for recovery of an upload whose id a dying mount never learned. The default
    /// lists none, for stores whose upload ids are chosen by the client.
    /// </summary>
    Task<IReadOnlyList<(string Id, DateTimeOffset Started)>> ListUnfinishedAsync(string key, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<(string, DateTimeOffset)>>([]);
}

/// <summary>One multipart upload in progress. Not thread-safe for the same part number; parts may run in parallel.</summary>
public interface IMultipartUpload
{
    /// <summary>The key being written.</summary>
    string Key { get; }

    /// <summary>
    /// The upload's id, with which <see cref="IMultipartUploads.AbortAsync(string, string, CancellationToken)"/> can
    /// discard it later (S3's UploadId; the prefix of the segments or parts elsewhere); empty when there is nothing
    /// to discard.
    /// </summary>
    string Id => "";

    /// <summary>Uploads part <paramref name="partNumber"/> (1-based); uploading a number again replaces that part.</summary>
    Task UploadPartAsync(int partNumber, ObjectContent content, CancellationToken cancellationToken);

    /// <summary>Assembles parts 1..<paramref name="parts"/> into the object, atomically replacing any old one.</summary>
    /// <param name="parts">How many parts, all uploaded.</param>
    /// <param name="totalBytes">The object's size, for the returned metadata.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <exception cref="InvalidOperationException">A part in 1..<paramref name="parts"/> was never uploaded.</exception>
    Task<ObjectInfo> CompleteAsync(int parts, long totalBytes, CancellationToken cancellationToken);

    /// <summary>Discards the upload and its parts. Never throws for a server that cannot abort.</summary>
    Task AbortAsync(CancellationToken cancellationToken);
}
