using System.Collections.Concurrent;
using System.Security.Cryptography;
using Amazon.S3;
using Amazon.S3.Model;

namespace CloudMount.Core.Storage.S3;

/// <summary>
/// S3 multipart uploads (CreateMultipartUpload, UploadPart with Content-MD5, CompleteMultipartUpload,
/// AbortMultipartUpload), per the S3 API reference: parts of 5 MiB to 5 GiB but the last, at most 10,000.
/// </summary>
/// <remarks>
/// A completed upload is HEADed: its size, and its ETag against the one S3 gives a multipart object (the MD5 of the
/// parts' MD5s, then <c>-N</c>), so an object assembled from other parts than ours is a failed upload. A completion
/// retried after its answer was lost finds the upload gone (NoSuchUpload); the object is then ours if the HEAD says so.
/// </remarks>
internal sealed class S3MultipartUploads(AmazonS3Client client, string bucket, Func<Exception, string?, Exception> fail, bool unsignedPayload,
    Func<string, CancellationToken, Task<ObjectInfo?>> head) : IMultipartUploads
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

    /// <summary>ListMultipartUploads with the key as prefix, keeping the uploads of exactly that key.</summary>
    public async Task<IReadOnlyList<(string Id, DateTimeOffset Started)>> ListUnfinishedAsync(string key, CancellationToken cancellationToken)
    {
        var result = new List<(string, DateTimeOffset)>();
        try
        {
            string? keyMarker = null, idMarker = null;
            while (true)
            {
                var r = await _client.ListMultipartUploadsAsync(new ListMultipartUploadsRequest
                {
                    BucketName = _bucket,
                    Prefix = key,
                    KeyMarker = keyMarker,
                    UploadIdMarker = idMarker,
                }, cancellationToken).ConfigureAwait(false);
                foreach (var u in r.MultipartUploads ?? [])
                {
                    if (u.Key == key) result.Add((u.UploadId, new DateTimeOffset(DateTime.SpecifyKind(u.Initiated ?? DateTime.MinValue, DateTimeKind.Utc))));
                }
                if (r.IsTruncated != true) break;
                keyMarker = r.NextKeyMarker;
                idMarker = r.NextUploadIdMarker;
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw _fail(e, key);
        }
        return result;
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
            // S3's multipart ETag: MD5 of the concatenated binary MD5s of the parts, then "-" and the part count.
            string expected = ExpectedETag(list);
            string? completed = null;
            try
            {
                var done = await owner._client.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
                {
                    BucketName = owner._bucket,
                    Key = key,
                    UploadId = uploadId,
                    PartETags = list,
                }, cancellationToken).ConfigureAwait(false);
                completed = done.ETag;
            }
            catch (AmazonS3Exception e) when (e.ErrorCode == "NoSuchUpload")
            {
                // Completed by an earlier attempt whose answer was lost, or never there: the object tells which.
            }
            catch (Exception e)
            {
                throw owner._fail(e, key);
            }
            var info = await owner._head(key, cancellationToken).ConfigureAwait(false);
            string? stored = info?.ETag?.Trim('"');
            if (info is null || (completed is null && stored != expected))
            {
                throw new ObjectNotFoundException(key);
            }
            if (expected.Length > 0 && stored is not null && stored.Contains('-', StringComparison.Ordinal) && stored != expected)
            {
                throw new ChecksumMismatchException($"multipart upload of {key} to s3://{owner._bucket}: the service stored ETag {stored}, our parts give {expected}");
            }
            return info with { ContentType = info.ContentType ?? options.ContentType };
        }

        private static string ExpectedETag(List<PartETag> parts)
        {
            var md5s = new byte[parts.Count * 16];
            for (int i = 0; i < parts.Count; i++)
            {
                if (UploadVerifyingMd5(parts[i].ETag) is not { } md5) return "";
                md5.CopyTo(md5s, i * 16);
            }
            return $"{Convert.ToHexStringLower(MD5.HashData(md5s))}-{parts.Count}";
        }

        private static byte[]? UploadVerifyingMd5(string? etag) => Decorators.UploadVerifyingObjectStore.Md5FromETag(etag);

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
    private readonly Func<string, CancellationToken, Task<ObjectInfo?>> _head = head;
}
