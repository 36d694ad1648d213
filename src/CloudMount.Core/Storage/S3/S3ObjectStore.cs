using System.Net;
using System.Security.Cryptography;
using Amazon;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace CloudMount.Core.Storage.S3;

/// <summary>
/// <c>s3://bucket</c> on AWSSDK.S3: AWS itself or any S3-compatible endpoint. A thin translation of the S3 API:
/// ListObjectsV2, HeadObject, ranged GetObject with If-Match, PutObject with Content-MD5 (multipart upload with
/// parallel parts above <see cref="S3StoreOptions.MultipartThresholdBytes"/>), DeleteObject and CopyObject.
/// The SDK's own retries are off; <see cref="Decorators.RetryingObjectStore"/> does them.
/// </summary>
public sealed class S3ObjectStore : IObjectStore
{
    private readonly AmazonS3Client _client;
    private readonly string _bucket;
    private readonly string _endpoint;
    private readonly S3StoreOptions _options;

    /// <summary>Creates a client for one bucket. No request is made until the first call.</summary>
    /// <param name="bucket">The bucket name.</param>
    /// <param name="credentials">From <see cref="S3CredentialResolver"/>.</param>
    /// <param name="options">Endpoint, region, multipart settings.</param>
    public S3ObjectStore(string bucket, AWSCredentials credentials, S3StoreOptions options)
        : this(bucket, credentials, options, new GuardedHttpClients(options.Timeouts))
    {
    }

    /// <summary>A client whose HTTP clients come from <paramref name="http"/> (<see cref="S3Warmup"/>'s answers made in memory).</summary>
    internal S3ObjectStore(string bucket, AWSCredentials credentials, S3StoreOptions options, HttpClientFactory http)
    {
        _bucket = bucket;
        _options = options;
        string region = options.Region
            ?? Environment.GetEnvironmentVariable("AWS_REGION")
            ?? Environment.GetEnvironmentVariable("AWS_DEFAULT_REGION")
            ?? "us-east-1";
        var config = new AmazonS3Config
        {
            MaxErrorRetry = 0,
            // Nor its "stale pooled connection" resends (up to 10 since AWSSDK.Core 4.0.10x, outside MaxErrorRetry),
            // which take a stall guard's timeout on a reused connection for a stale one and send the request again:
            // one attempt then lasted up to eleven timeouts, and offline mode came too late. RetryingObjectStore
            // retries; SocketsHttpHandler already resends a request whose reused connection closed before it was sent.
            MaxStaleConnectionRetries = 0,
            // No overall deadline: the stall guard of our handler bounds every wait on the server instead.
            Timeout = ClientConfig.MaxTimeout,
            HttpClientFactory = http,
            // Checksums the SDK adds by default (CRC32 trailers, aws-chunked) are not understood by many
            // S3-compatible servers; we send Content-MD5 ourselves.
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        };
        if (options.Endpoint is { } endpoint)
        {
            config.ServiceURL = endpoint.ToString();
            config.AuthenticationRegion = region;
            config.ForcePathStyle = options.ForcePathStyle ?? true;
            _endpoint = endpoint.GetLeftPart(UriPartial.Authority);
            UnsignedPayload = endpoint.Scheme == Uri.UriSchemeHttps;
        }
        else
        {
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(region);
            config.ForcePathStyle = options.ForcePathStyle ?? false;
            _endpoint = $"s3.{region}.amazonaws.com";
            UnsignedPayload = true;
        }
        _client = new AmazonS3Client(credentials, config);
        Name = $"s3://{bucket}";
        Multipart = new S3MultipartUploads(_client, bucket, (e, key) => Fail(e, key), UnsignedPayload, HeadAsync);
    }

    /// <inheritdoc/>
    public IMultipartUploads Multipart { get; }

    /// <summary>
    /// Over HTTPS, bodies are sent as UNSIGNED-PAYLOAD: Content-MD5 and TLS protect them, and the SDK skips a
    /// SHA-256 pass over every byte (the SDK's documented use; it refuses it over plain HTTP).
    /// </summary>
    internal bool UnsignedPayload { get; }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public StoreCapabilities Capabilities => new()
    {
        Md5ETags = true,
        MaxSinglePutBytes = _options.MultipartThresholdBytes,
    };

    private Exception Fail(Exception e, string? key, string? ifMatch = null) => S3ErrorTranslator.Translate(e, _bucket, key, _endpoint, ifMatch);

    private static DateTimeOffset Utc(DateTime? t) =>
        t is { } v ? new DateTimeOffset(v.Kind == DateTimeKind.Unspecified ? DateTime.SpecifyKind(v, DateTimeKind.Utc) : v.ToUniversalTime()) : DateTimeOffset.UnixEpoch;

    private static Dictionary<string, string>? MetadataOf(MetadataCollection? m)
    {
        if (m is null || m.Count == 0) return null;
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string k in m.Keys)
        {
            string name = k.StartsWith("x-amz-meta-", StringComparison.OrdinalIgnoreCase) ? k["x-amz-meta-".Length..] : k;
            d[name.ToLowerInvariant()] = m[k];
        }
        return d;
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Asks for <c>encoding-type=url</c> (as rclone's <c>--s3-list-url-encode</c> does), so keys with characters XML 1.0
    /// cannot carry (<c>\x01</c>) are listed instead of failing the page (Swift's s3api answers 500 without it); the SDK
    /// decodes keys and prefixes of such answers, and a server that ignores the request answers plain keys, which read the same.
    /// </remarks>
    public async Task<ListPage> ListAsync(ListRequest request, CancellationToken cancellationToken)
    {
        ListObjectsV2Response r;
        try
        {
            r = await _client.ListObjectsV2Async(new ListObjectsV2Request
            {
                BucketName = _bucket,
                Prefix = request.Prefix,
                Delimiter = request.Delimiter,
                ContinuationToken = request.PageToken,
                MaxKeys = Math.Clamp(request.MaxKeys, 1, 1000),
                Encoding = EncodingType.Url,
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            throw Fail(e, null);
        }
        // The SDK hands encoded keys on as they are: decode them as botocore does (unquote_plus; S3 sends a literal '+' as %2B).
        bool encoded = r.Encoding == EncodingType.Url;
        string Key(string k) => encoded ? Uri.UnescapeDataString(k.Replace('+', ' ')) : k;
        var objects = (r.S3Objects ?? []).Select(o => new ObjectInfo(Key(o.Key), o.Size ?? 0, o.ETag, Utc(o.LastModified))).ToList();
        var prefixes = (r.CommonPrefixes ?? []).Select(Key).ToList();
        string? next = r.IsTruncated == true ? r.NextContinuationToken : null;
        if (r.IsTruncated == true && string.IsNullOrEmpty(next))
        {
            throw new InvalidResponseException($"{_endpoint} returned a truncated listing without a continuation token");
        }
        return new ListPage(objects, prefixes, next);
    }

    /// <inheritdoc/>
    public async Task<ObjectInfo?> HeadAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            var r = await _client.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = _bucket, Key = key }, cancellationToken).ConfigureAwait(false);
            return new ObjectInfo(key, r.ContentLength, r.ETag, Utc(r.LastModified))
            {
                ContentType = r.Headers.ContentType,
                ContentEncoding = r.Headers.ContentEncoding,
                Metadata = MetadataOf(r.Metadata),
                StorageClass = r.StorageClass?.Value ?? "STANDARD",
            };
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound && e.ErrorCode != "NoSuchBucket")
        {
            return null;
        }
        catch (Exception e)
        {
            throw Fail(e, key);
        }
    }

    /// <inheritdoc/>
    public async Task<ObjectReadResult> ReadAsync(string key, ByteRange range, string? ifMatch, CancellationToken cancellationToken)
    {
        if (range.Length == 0)
        {
            var head = await HeadAsync(key, cancellationToken).ConfigureAwait(false) ?? throw new ObjectNotFoundException(key);
            if (ifMatch is not null && head.ETag != ifMatch) throw new PreconditionFailedException(key, ifMatch);
            return new ObjectReadResult(Stream.Null, head, new ByteRange(range.Offset, 0));
        }
        var request = new GetObjectRequest { BucketName = _bucket, Key = key, EtagToMatch = ifMatch };
        if (!range.IsWholeObject)
        {
            request.ByteRange = range.Length is { } ? new Amazon.S3.Model.ByteRange(range.Offset, range.LastByte!.Value) : new Amazon.S3.Model.ByteRange($"bytes={range.Offset}-");
        }
        GetObjectResponse r;
        try
        {
            r = await _client.GetObjectAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
        {
            // Past the end: S3 answers 416 for a range starting at or beyond the size.
            var head = await HeadAsync(key, cancellationToken).ConfigureAwait(false) ?? throw new ObjectNotFoundException(key, e);
            return new ObjectReadResult(Stream.Null, head, new ByteRange(head.Size, 0));
        }
        catch (Exception e)
        {
            throw Fail(e, key, ifMatch);
        }
        if (ifMatch is not null && r.ETag is { } served && served != ifMatch)
        {
            // Some S3-compatible servers ignore If-Match; never return bytes of another version.
            r.Dispose();
            throw new PreconditionFailedException(key, ifMatch);
        }
        long total = r.ContentLength;
        long offset = 0;
        if (ContentRange.TryParse(r.ContentRange, out long start, out _, out long size))
        {
            total = size;
            offset = start;
        }
        else if (!range.IsWholeObject && range.Offset > 0)
        {
            r.Dispose();
            throw new InvalidResponseException($"{_endpoint} ignored the Range header reading {key}");
        }
        var info = new ObjectInfo(key, total, r.ETag, Utc(r.LastModified))
        {
            ContentType = r.Headers.ContentType,
            ContentEncoding = r.Headers.ContentEncoding,
            Metadata = MetadataOf(r.Metadata),
            StorageClass = r.StorageClass?.Value ?? "STANDARD",
        };
        return new ObjectReadResult(new S3ResponseStream(r), info, new ByteRange(offset, r.ContentLength));
    }

    /// <inheritdoc/>
    public async Task<ObjectInfo> WriteAsync(string key, ObjectContent content, ObjectWriteOptions options, CancellationToken cancellationToken)
    {
        if (content.Length > _options.MultipartThresholdBytes)
        {
            return await WriteMultipartAsync(key, content, options, cancellationToken).ConfigureAwait(false);
        }
        await using var body = content.OpenRead();
        var request = new PutObjectRequest
        {
            BucketName = _bucket,
            Key = key,
            InputStream = body,
            AutoCloseStream = false,
            UseChunkEncoding = false,
            DisablePayloadSigning = UnsignedPayload,
            ContentType = options.ContentType,
            MD5Digest = options.ContentMd5 is { } md5 ? Convert.ToBase64String(md5) : null,
        };
        ApplyHeaders(request.Headers, request.Metadata, options);
        try
        {
            var r = await _client.PutObjectAsync(request, cancellationToken).ConfigureAwait(false);
            return new ObjectInfo(key, content.Length, r.ETag, TruncatedNow())
            {
                ContentType = options.ContentType,
                ContentEncoding = options.ContentEncoding,
                Metadata = options.Metadata,
            };
        }
        catch (Exception e)
        {
            throw Fail(e, key);
        }
    }

    internal static DateTimeOffset TruncatedNow()
    {
        var now = DateTimeOffset.UtcNow;
        return new DateTimeOffset(now.Ticks - now.Ticks % TimeSpan.TicksPerSecond, TimeSpan.Zero);
    }

    internal static void ApplyHeaders(HeadersCollection headers, MetadataCollection metadata, ObjectWriteOptions options)
    {
        if (options.ContentEncoding is { } enc)
        {
            headers.ContentEncoding = enc;
        }
        if (options.Metadata is { } meta)
        {
            foreach (var (k, v) in meta)
            {
                metadata.Add(k, v);
            }
        }
    }

    private Task<ObjectInfo> WriteMultipartAsync(string key, ObjectContent content, ObjectWriteOptions options, CancellationToken cancellationToken) =>
        Writing.ObjectWriter.WriteAsync(this, key, content, options,
            new Writing.UploadOptions(_options.PartSizeBytes, _options.UploadConcurrency, ThresholdBytes: 0), cancellationToken);

    /// <inheritdoc/>
    public async Task DeleteAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            await _client.DeleteObjectAsync(new DeleteObjectRequest { BucketName = _bucket, Key = key }, cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound && e.ErrorCode != "NoSuchBucket")
        {
            // Already gone.
        }
        catch (Exception e)
        {
            throw Fail(e, key);
        }
    }

    /// <inheritdoc/>
    public async Task<ObjectInfo> CopyAsync(string sourceKey, string destinationKey, CancellationToken cancellationToken)
    {
        try
        {
            var r = await _client.CopyObjectAsync(new CopyObjectRequest
            {
                SourceBucket = _bucket,
                SourceKey = sourceKey,
                DestinationBucket = _bucket,
                DestinationKey = destinationKey,
                MetadataDirective = S3MetadataDirective.COPY,
            }, cancellationToken).ConfigureAwait(false);
            var head = await HeadAsync(destinationKey, cancellationToken).ConfigureAwait(false);
            return head ?? throw new ObjectNotFoundException(destinationKey);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            // Source and destination share this bucket, so a 404 means the source is missing, or the server
            // could not parse the (URL-encoded) x-amz-copy-source, as s3rver cannot when the key has a '/'.
            var source = await HeadAsync(sourceKey, cancellationToken).ConfigureAwait(false) ?? throw new ObjectNotFoundException(sourceKey, e);
            if (e.ErrorCode != "NoSuchBucket") throw Fail(e, sourceKey);
            return await CopyThroughClientAsync(source, destinationKey, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not ObjectStoreException)
        {
            throw Fail(e, sourceKey);
        }
    }

    /// <inheritdoc/>
    /// <remarks>
    /// CopyObject of the key onto itself with <c>x-amz-metadata-directive: REPLACE</c> and
    /// <c>x-amz-copy-source-if-match</c>: S3's way to change metadata. Single requests copy up to 5 GiB.
    /// </remarks>
    public async Task<ObjectInfo> UpdateMetadataAsync(string key, ObjectWriteOptions options, string? ifMatch, CancellationToken cancellationToken)
    {
        var request = new CopyObjectRequest
        {
            SourceBucket = _bucket,
            SourceKey = key,
            DestinationBucket = _bucket,
            DestinationKey = key,
            MetadataDirective = S3MetadataDirective.REPLACE,
            ContentType = options.ContentType,
            ETagToMatch = ifMatch,
        };
        ApplyHeaders(request.Headers, request.Metadata, options);
        try
        {
            await _client.CopyObjectAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound && e.ErrorCode != "NoSuchBucket")
        {
            throw new ObjectNotFoundException(key, e);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            // The server could not parse x-amz-copy-source (s3rver answers NoSuchBucket for its own bucket, see
            // CopyAsync): rewrite the object through the client with the new metadata, pinned to the same version.
            var source = await HeadAsync(key, cancellationToken).ConfigureAwait(false) ?? throw new ObjectNotFoundException(key, e);
            if (ifMatch is not null && source.ETag != ifMatch) throw new PreconditionFailedException(key, ifMatch, e);
            return await CopyThroughClientAsync(source with { ContentType = options.ContentType ?? source.ContentType, ContentEncoding = options.ContentEncoding ?? source.ContentEncoding, Metadata = options.Metadata }, key, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            throw Fail(e, key, ifMatch);
        }
        return await HeadAsync(key, cancellationToken).ConfigureAwait(false) ?? throw new ObjectNotFoundException(key);
    }

    /// <summary>Copies by downloading to a temporary file and uploading, keeping type, encoding and metadata.</summary>
    private async Task<ObjectInfo> CopyThroughClientAsync(ObjectInfo source, string destinationKey, CancellationToken ct)
    {
        string tmp = Path.GetTempFileName();
        try
        {
            await using (var file = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20, useAsync: true))
            await using (var r = await ReadAsync(source.Key, ByteRange.All, source.ETag, ct).ConfigureAwait(false))
            {
                await r.Content.CopyToAsync(file, 1 << 20, ct).ConfigureAwait(false);
            }
            return await WriteAsync(destinationKey, ObjectContent.FromFile(tmp), new ObjectWriteOptions
            {
                ContentType = source.ContentType,
                ContentEncoding = source.ContentEncoding,
                Metadata = source.Metadata,
            }, ct).ConfigureAwait(false);
        }
        finally
        {
            File.Delete(tmp);
        }
    }

    /// <inheritdoc/>
    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }
}
