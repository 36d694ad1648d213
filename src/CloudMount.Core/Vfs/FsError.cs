using CloudMount.Core.Storage;

namespace CloudMount.Core.Vfs;

/// <summary>
/// Platform-neutral filesystem errors. Each adapter maps these to its own codes in one table
/// (errno on Linux, NTSTATUS on Windows); nothing else in an adapter decides an error code.
/// </summary>
public enum FsError
{
    /// <summary>ENOENT: no such file or directory.</summary>
    NotFound,
    /// <summary>EEXIST.</summary>
    Exists,
    /// <summary>ENOTEMPTY: rmdir of a directory with entries.</summary>
    NotEmpty,
    /// <summary>ENOTDIR.</summary>
    NotDirectory,
    /// <summary>EISDIR.</summary>
    IsDirectory,
    /// <summary>EROFS: a read-only mount or a read-only store.</summary>
    ReadOnly,
    /// <summary>EIO: the store failed (after retries), an upload failed, or data is corrupt.</summary>
    Io,
    /// <summary>ESTALE: the object changed or vanished while it was open (its pinned ETag no longer matches).</summary>
    Stale,
    /// <summary>ENOTSUP / ENOSYS: the operation has no meaning here.</summary>
    NotSupported,
    /// <summary>EINVAL.</summary>
    InvalidArgument,
    /// <summary>EXDEV: a rename the filesystem cannot do in place; tools such as mv then copy.</summary>
    CrossDevice,
    /// <summary>EACCES: the store refused the credentials or the operation.</summary>
    AccessDenied,
    /// <summary>ENAMETOOLONG: a name over 255 bytes.</summary>
    NameTooLong,
    /// <summary>EBADF: an unknown or wrongly-opened file handle.</summary>
    BadHandle,
    /// <summary>ENOSPC: no room for a staging file.</summary>
    NoSpace,
    /// <summary>ENETUNREACH: the store cannot be reached and no cache holds what was asked for.</summary>
    Unreachable,
    /// <summary>ENODATA: no such extended attribute.</summary>
    NoData,
    /// <summary>EPERM: the operation is not permitted (changing a read-only attribute).</summary>
    NotPermitted,
    /// <summary>EFBIG: a size beyond the store's largest object.</summary>
    FileTooLarge,
    /// <summary>EOVERFLOW: a value (a time, a size) that cannot be represented.</summary>
    Overflow,
    /// <summary>EINTR: the caller interrupted the operation (a signal, Ctrl-C).</summary>
    Interrupted,
}

/// <summary>A filesystem operation failed with a specific <see cref="FsError"/>.</summary>
public sealed class FileSystemException(FsError error, string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>The error to report to the caller.</summary>
    public FsError Error { get; } = error;

    /// <summary>
    /// Classifies any exception from Core into an <see cref="FsError"/>: the single mapping from object-store
    /// errors to filesystem errors (mountpoint-s3's <c>fs/error.rs</c> idea).
    /// </summary>
    public static FsError Classify(Exception e) => e switch
    {
        FileSystemException fse => fse.Error,
        ObjectNotFoundException => FsError.NotFound,
        PreconditionFailedException => FsError.Stale,
        AccessDeniedException => FsError.AccessDenied,
        ReadOnlyStoreException => FsError.ReadOnly,
        StoreUnavailableException or ConnectionFailedException => FsError.Unreachable,
        NotSupportedException => FsError.NotSupported,
        OperationCanceledException => FsError.Interrupted,
        IOException io when io.HResult == 28 || io.Message.Contains("No space left", StringComparison.Ordinal) => FsError.NoSpace,
        _ => FsError.Io,
    };
}
