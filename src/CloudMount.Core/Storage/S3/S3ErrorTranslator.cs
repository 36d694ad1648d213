using System.Net;
using System.Net.Sockets;
using Amazon.Runtime;
using Amazon.S3;

namespace CloudMount.Core.Storage.S3;

/// <summary>
/// Turns AWS SDK exceptions into the object layer's types, following the S3 error codes of the
/// S3 API reference ("Error responses"): NoSuchBucket, NoSuchKey, PreconditionFailed, AccessDenied,
/// InvalidAccessKeyId, SignatureDoesNotMatch, SlowDown, InternalError, RequestTimeout.
/// </summary>
internal static class S3ErrorTranslator
{
    public static Exception Translate(Exception e, string bucket, string? key, string endpoint, string? ifMatch = null)
    {
        switch (e)
        {
            case ObjectStoreException:
            case OperationCanceledException when e.InnerException is not TimeoutException:
                return e;
            case AmazonS3Exception s3:
                return FromServiceError((int)s3.StatusCode, s3.ErrorCode, s3.Message, e, bucket, key, endpoint, ifMatch);
            case AmazonServiceException svc when svc.StatusCode != 0:
                return FromServiceError((int)svc.StatusCode, svc.ErrorCode, svc.Message, e, bucket, key, endpoint, ifMatch);
        }
        // Transport failures: the SDK wraps HttpRequestException/SocketException/IOException.
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            if (x is SocketException se)
            {
                return new ConnectionFailedException($"cannot reach {endpoint}: {se.Message}", e);
            }
            if (x is HttpRequestException hre)
            {
                return new ConnectionFailedException($"cannot reach {endpoint}: {hre.Message}", e);
            }
            if (x is TimeoutException or TaskCanceledException)
            {
                var reason = x as TimeoutException ?? x.InnerException as TimeoutException;
                return new ConnectionFailedException(reason?.Message ?? $"request to {endpoint} timed out", e);
            }
            if (x is IOException io)
            {
                return new ConnectionFailedException($"connection to {endpoint} failed: {io.Message}", e);
            }
        }
        if (e is AmazonClientException ace)
        {
            return new ObjectStoreException($"S3 client error for {endpoint}: {ace.Message}", e);
        }
        return e;
    }

    private static Exception FromServiceError(int status, string? code, string message, Exception e, string bucket, string? key, string endpoint, string? ifMatch)
    {
        if (code == "NoSuchBucket")
        {
            return new BucketNotFoundException(bucket, e);
        }
        switch (status)
        {
            case 404:
                return key is null ? new BucketNotFoundException(bucket, e) : new ObjectNotFoundException(key, e);
            case 412:
                return new PreconditionFailedException(key ?? "", ifMatch, e);
            case 401:
            case 403:
                string what = code switch
                {
                    "InvalidAccessKeyId" => "the access key is not known to the service",
                    "SignatureDoesNotMatch" => "the secret key is wrong",
                    "ExpiredToken" or "TokenRefreshRequired" => "the session token has expired",
                    _ => code ?? "access denied",
                };
                return new AccessDeniedException($"access to s3://{bucket} at {endpoint} denied: {what} ({message})", e);
            case 400 when code is "InvalidBucketName":
                return new BucketNotFoundException(bucket, e);
            case 400 when code is "RequestTimeout" or "ExpiredToken":
            case 408:
            case 429:
            case >= 500:
                return new TransientStoreException($"s3://{bucket} at {endpoint}: {status} {code}: {message}", e);
        }
        if (status == (int)HttpStatusCode.OK || status == 0)
        {
            return new InvalidResponseException($"unexpected answer from {endpoint}: {message}", e);
        }
        return new ObjectStoreException($"s3://{bucket} at {endpoint}: {status} {code}: {message}", e);
    }
}
