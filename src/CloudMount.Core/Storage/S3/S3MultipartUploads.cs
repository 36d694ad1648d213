using System.Collections.Concurrent;
using System.Security.Cryptography;
using Amazon.S3;
using Amazon.S3.Model;

namespace CloudMount.Core.Storage.S3;

/// <summary>
/// S3 multipart uploads (CreateMultipartUpload, UploadPart with Content-MD5, CompleteMultipartUpload,
/// AbortMultipartUpload), per the S3 API reference: parts of 5 MiB to 5 GiB but the last, at most 10,000.
/// </summary>
internal sealed class S3MultipartUploads(AmazonS3Client client, string bucket, Func<Exception, string?, Exception> fail, bool unsignedPayload) : IMultipartUploads
{
    public long MinPartBytes => 5 * Bytes.MiB;

    public int MaxParts => 10_000;

    public async Task<IMultipartUpload> StartAsync(string key, ObjectWriteOptions options, CancellationToken cancellationToken)
    {
        try
        {
            var init = new InitiateMultipartUploadRequest { BucketName = _bucket, Key = key, ContentType = options.ContentType };
            S3ObjectStore.ApplyHeaders(init.Headers, init.Metadata, options);
            var r = await _client.InitiateMultipartUploadAsync(init, cancellationToken).ConfigureAwait(false);
            return new Upload(this, key, r.UploadId, options);
        }
        catch (Exception e)
        {
            throw _fail(e, key);
        }
    }

    /// <summary>AbortMultipartUpload of an upload an earlier process left (NoSuchUpload counts as done).</summary>
    public async Task AbortAsync(string key, string uploadId, CancellationToken cancellationToken)
    {
        try
        {
            await _client.AbortMultipartUploadAsync(new AbortMultipartUploadRequest { BucketName = _bucket, Key = key, UploadId = uploadId }, cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == System.Net.HttpStatusCode.NotFound || e.ErrorCode == "NoSuchUpload")
        {
            // Already gone.
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw _fail(e, key);
        }
    }

    private sealed class Upload(S3MultipartUploads owner, string key, string uploadId, ObjectWriteOptions options) : IMultipartUpload
    {
        private readonly ConcurrentDictionary<int, string> _etags = new();

        public string Key => key;

        public string Id => uploadId;

        public async Task UploadPartAsync(int partNumber, ObjectContent content, CancellationToken cancellationToken)
        {
            byte[] md5;
            await using (var hash = content.OpenRead())
            {
                md5 = await MD5.HashDataAsync(hash, cancellationToken).ConfigureAwait(false);
            }
            await using var body = content.OpenRead();
            try
            {
                var r = await owner._client.UploadPartAsync(new UploadPartRequest
                {
                    BucketName = owner._bucket,
                    Key = key,
                    UploadId = uploadId,
                    PartNumber = partNumber,
                    PartSize = content.Length,
                    InputStream = body,
                    UseChunkEncoding = false,
                    DisablePayloadSigning = owner._unsignedPayload,
                    MD5Digest = Convert.ToBase64String(md5),
                }, cancellationToken).ConfigureAwait(false);
                _etags[partNumber] = r.ETag;
            }
            catch (Exception e)
            {
                throw owner._fail(e, key);
            }
        }

        public async Task<ObjectInfo> CompleteAsync(int parts, long totalBytes, CancellationToken cancellationToken)
        {
            var list = new List<PartETag>(parts);
            for (int i = 1; i <= parts; i++)
            {
                list.Add(new PartETag(i, _etags.TryGetValue(i, out var etag) ? etag : throw new InvalidOperationException($"part {i} of {key} was not uploaded")));
            }
            try
            {
                var done = await owner._client.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
                {
                    BucketName = owner._bucket,
                    Key = key,
                    UploadId = uploadId,
                    PartETags = list,
                }, cancellationToken).ConfigureAwait(false);
                return new ObjectInfo(key, totalBytes, done.ETag, S3ObjectStore.TruncatedNow())
                {
                    ContentType = options.ContentType,
                    ContentEncoding = options.ContentEncoding,
                    Metadata = options.Metadata,
                };
            }
            catch (Exception e)
            {
                throw owner._fail(e, key);
            }
        }

        public async Task AbortAsync(CancellationToken cancellationToken)
        {
            try
            {
                await owner._client.AbortMultipartUploadAsync(new AbortMultipartUploadRequest { BucketName = owner._bucket, Key = key, UploadId = uploadId }, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Some servers (s3rver) do not implement abort; a bucket lifecycle rule cleans up.
            }
        }
    }

    private readonly AmazonS3Client _client = client;
    private readonly string _bucket = bucket;
    private readonly Func<Exception, string?, Exception> _fail = fail;
    private readonly bool _unsignedPayload = unsignedPayload;
}
