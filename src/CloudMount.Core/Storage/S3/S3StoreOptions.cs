namespace CloudMount.Core.Storage.S3;

/// <summary>How to reach an S3 service: AWS itself or any S3-compatible endpoint.</summary>
public sealed record S3StoreOptions
{
    /// <summary>
    /// The service URL for S3-compatible stores, for example <c>http://127.0.0.1:9000</c> (MinIO, Swift's s3api,
    /// Ceph RGW, Wasabi). <c>null</c> means AWS itself, with the endpoint chosen from <see cref="Region"/>.
    /// </summary>
    public Uri? Endpoint { get; init; }

    /// <summary>Region for signing and for the AWS endpoint, for example <c>us-east-1</c>; <c>null</c> takes it from the credentials file, AWS_REGION / AWS_DEFAULT_REGION, or <c>us-east-1</c>.</summary>
    public string? Region { get; init; }

    /// <summary>Path-style addressing (<c>http://host/bucket/key</c>) rather than virtual-hosted (<c>http://bucket.host/key</c>). Default: on with a custom endpoint, off on AWS.</summary>
    public bool? ForcePathStyle { get; init; }

    /// <summary>Send unsigned requests (public buckets), like the AWS CLI's <c>--no-sign-request</c>.</summary>
    public bool Anonymous { get; init; }

    /// <summary>Objects larger than this many bytes are written as multipart uploads.</summary>
    public long MultipartThresholdBytes { get; init; } = 32 * Bytes.MiB;

    /// <summary>Part size of multipart uploads in bytes (at least 5 MiB, grown so that no upload needs more than 10,000 parts).</summary>
    public long PartSizeBytes { get; init; } = 16 * Bytes.MiB;

    /// <summary>Parts of one multipart upload sent at once.</summary>
    public int UploadConcurrency { get; init; } = 4;

    /// <summary>
    /// How long to wait on a silent server (to connect, for the first byte of an answer, inside a body) before the
    /// request fails (and is retried); the SDK sends through <see cref="StoreHttp"/>'s handler.
    /// </summary>
    public HttpTimeouts Timeouts { get; init; } = HttpTimeouts.Default;
}
