namespace CloudMount.Core.Storage;

/// <summary>
/// Base of every error an <see cref="IObjectStore"/> reports. Backends translate their service's errors into
/// these types so that retries (<see cref="IsTransient"/>) and the Vfs's errno mapping are written once.
/// </summary>
public class ObjectStoreException : Exception
{
    /// <summary>Creates the error.</summary>
    /// <param name="message">One line naming the problem, suitable for a user.</param>
    /// <param name="inner">The service or transport error behind it.</param>
    public ObjectStoreException(string message, Exception? inner = null) : base(message, inner) { }

    /// <summary>True when retrying the same request may succeed (5xx, throttling, timeouts, dropped connections).</summary>
    public virtual bool IsTransient => false;
}

/// <summary>The object does not exist (HTTP 404 on an object).</summary>
public sealed class ObjectNotFoundException(string key, Exception? inner = null)
    : ObjectStoreException($"no such object: {key}", inner)
{
    /// <summary>The key that was asked for.</summary>
    public string Key { get; } = key;
}

/// <summary>The bucket or container does not exist (S3 NoSuchBucket, Swift 404 on the container).</summary>
public sealed class BucketNotFoundException(string bucket, Exception? inner = null)
    : ObjectStoreException($"bucket '{bucket}' does not exist", inner)
{
    /// <summary>The bucket's name.</summary>
    public string Bucket { get; } = bucket;
}

/// <summary>
/// A conditional request failed (HTTP 412): the object changed since its ETag was read. The Vfs maps this to
/// ESTALE, as mountpoint-s3 does, rather than mixing bytes of two versions.
/// </summary>
public sealed class PreconditionFailedException(string key, string? expectedETag, Exception? inner = null)
    : ObjectStoreException($"object {key} changed (expected ETag {expectedETag})", inner)
{
    /// <summary>The key that changed.</summary>
    public string Key { get; } = key;
}

/// <summary>The service refused the credentials or the operation (HTTP 401/403).</summary>
public sealed class AccessDeniedException(string message, Exception? inner = null) : ObjectStoreException(message, inner);

/// <summary>The store cannot be written (a read-only backend or a read-only mount).</summary>
public sealed class ReadOnlyStoreException(string message) : ObjectStoreException(message);

/// <summary>A failure that may pass: HTTP 5xx, throttling (503 SlowDown, 429), timeouts, refused or reset connections.</summary>
public sealed class TransientStoreException(string message, Exception? inner = null) : ObjectStoreException(message, inner)
{
    /// <inheritdoc/>
    public override bool IsTransient => true;
}

/// <summary>
/// The store could not be reached at all: connection refused or reset, name resolution failed, or no answer in
/// time. Transient; several in a row open the circuit breaker, after which requests fail fast with
/// <see cref="StoreUnavailableException"/> until the store answers again.
/// </summary>
public sealed class ConnectionFailedException(string message, Exception? inner = null) : ObjectStoreException(message, inner)
{
    /// <inheritdoc/>
    public override bool IsTransient => true;
}

/// <summary>
/// The store has been unreachable for several requests in a row; this request was not sent. The mount serves
/// what its caches hold and tries the store again after a pause (circuit breaker).
/// </summary>
public sealed class StoreUnavailableException(string store, Exception? inner = null)
    : ObjectStoreException($"{store} is unreachable (offline); serving cached data only", inner);

/// <summary>The service answered with something we cannot understand (a proxy's HTML page, a truncated body).</summary>
public sealed class InvalidResponseException(string message, Exception? inner = null) : ObjectStoreException(message, inner);

/// <summary>
/// Content did not match its checksum: a write the service rejected for its Content-MD5, an upload whose stored size,
/// MD5 or CRC32C differs from what was sent, or a whole-object read whose bytes differ from the stated hash.
/// </summary>
/// <param name="message">One line naming the key and both values.</param>
/// <param name="transient">True when sending again may pass (an upload: the retry sends the bytes again); false
/// for a read whose bytes were already handed on.</param>
public sealed class ChecksumMismatchException(string message, bool transient = true) : ObjectStoreException(message)
{
    /// <inheritdoc/>
    public override bool IsTransient => transient;
}
