using System.Text.Json.Serialization;

namespace CloudMount.Core.Writing;

/// <summary>
/// The record beside a staged file (<c>ID.json</c> next to <c>ID.data</c>): what the data is and where it belongs.
/// Written when the file first becomes dirty, rewritten when its key, its state or its multipart upload
/// changes, and removed once the data is stored.
/// </summary>
/// <param name="Store">The store's name, for example <c>s3://bucket</c>.</param>
/// <param name="Key">The key the data belongs to.</param>
/// <param name="Reason">Why it is not (yet) uploaded, for people reading <c>cloudmount cache list</c>.</param>
/// <param name="Time">When the data was last changed (the record's state set).</param>
/// <param name="BaseETag">ETag of the object the changes started from, or <c>null</c> for a new file; recovery stores
/// the data under another name when the object changed since.</param>
public sealed record PendingUpload(
    [property: JsonPropertyName("store")] string Store,
    [property: JsonPropertyName("key")] string Key,
    [property: JsonPropertyName("reason")] string Reason,
    [property: JsonPropertyName("time")] DateTimeOffset Time,
    [property: JsonPropertyName("baseETag")] string? BaseETag)
{
    /// <summary>The file was closed (flushed) after its last change, so the data is complete.</summary>
    public const string Closed = "closed";

    /// <summary>The file was open for writing: a writer may have stopped half-way.</summary>
    public const string Writing = "writing";

    /// <summary>
    /// <see cref="Closed"/> or <see cref="Writing"/>. Recovery uploads closed data to its key; data that was still
    /// being written goes to <c>KEY.cloudmount-recovered-TIME</c>, so a half-written file never replaces a good
    /// object. Records of older versions carry none and count as closed.
    /// </summary>
    [JsonPropertyName("state")]
    public string? State { get; init; }

    /// <summary>Content-Type to store the data with, or <c>null</c> to derive one from the key.</summary>
    [JsonPropertyName("contentType")]
    public string? ContentType { get; init; }

    /// <summary>Content-Encoding to store the data with (the data itself is the decoded bytes), or <c>null</c>.</summary>
    [JsonPropertyName("encoding")]
    public string? Encoding { get; init; }

    /// <summary>User metadata to store with the data (POSIX attributes included), or <c>null</c>.</summary>
    [JsonPropertyName("metadata")]
    public Dictionary<string, string>? Metadata { get; init; }

    /// <summary>True when the data is complete (the file was closed after its last change).</summary>
    [JsonIgnore]
    public bool IsClosed => State is null or Closed;
}

/// <summary>
/// The record of a multipart upload a mount started for a staged file (<c>ID.upload</c> beside <c>ID.data</c>),
/// written by <see cref="UploadSession"/> once the service gave the upload its id and removed when the upload is
/// completed or aborted. One left behind by a dead mount names parts that are still on the service: recovery
/// aborts them.
/// </summary>
/// <param name="Store">The store's name.</param>
/// <param name="Key">The key the upload writes.</param>
/// <param name="UploadId">The service's id of the upload; empty while the request that starts it is in flight.</param>
/// <param name="Started">When the upload was asked for (with an empty id, recovery looks for the unfinished
/// uploads of the key the service started around then).</param>
public sealed record PendingMultipart(
    [property: JsonPropertyName("store")] string Store,
    [property: JsonPropertyName("key")] string Key,
    [property: JsonPropertyName("uploadId")] string UploadId,
    [property: JsonPropertyName("started")] DateTimeOffset Started);

/// <summary>Source-generated JSON for staging records (no reflection: AOT- and trim-safe).</summary>
[JsonSourceGenerationOptions(WriteIndented = false)]
[JsonSerializable(typeof(PendingUpload))]
[JsonSerializable(typeof(PendingMultipart))]
internal sealed partial class StagingJson : JsonSerializerContext;
