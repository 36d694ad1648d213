using CloudMount.Core.Vfs;

namespace CloudMount.Windows;

/// <summary>The NTSTATUS values the adapter answers with (ntstatus.h of the Windows SDK; [MS-ERREF] 2.3.1).</summary>
internal static class NtStatus
{
    public const int Success = 0;
    public const int Pending = 0x00000103;
    public const int BufferOverflow = unchecked((int)0x80000005);
    public const int InvalidHandle = unchecked((int)0xC0000008);
    public const int InvalidParameter = unchecked((int)0xC000000D);
    public const int InvalidDeviceRequest = unchecked((int)0xC0000010);
    public const int EndOfFile = unchecked((int)0xC0000011);
    public const int AccessDenied = unchecked((int)0xC0000022);
    public const int ObjectNameInvalid = unchecked((int)0xC0000033);
    public const int ObjectNameNotFound = unchecked((int)0xC0000034);
    public const int ObjectNameCollision = unchecked((int)0xC0000035);
    public const int ObjectPathNotFound = unchecked((int)0xC000003A);
    public const int NonexistentEaEntry = unchecked((int)0xC0000051);
    public const int DiskFull = unchecked((int)0xC000007F);
    public const int IntegerOverflow = unchecked((int)0xC0000095);
    public const int FileInvalid = unchecked((int)0xC0000098);
    public const int MediaWriteProtected = unchecked((int)0xC00000A2);
    public const int IoTimeout = unchecked((int)0xC00000B5);
    public const int FileIsADirectory = unchecked((int)0xC00000BA);
    public const int NotSupported = unchecked((int)0xC00000BB);
    public const int NotSameDevice = unchecked((int)0xC00000D4);
    public const int DirectoryNotEmpty = unchecked((int)0xC0000101);
    public const int NotADirectory = unchecked((int)0xC0000103);
    public const int NameTooLong = unchecked((int)0xC0000106);
    public const int Cancelled = unchecked((int)0xC0000120);
    public const int CannotDelete = unchecked((int)0xC0000121);
    public const int IoDeviceError = unchecked((int)0xC0000185);
    public const int NetworkUnreachable = unchecked((int)0xC000023C);
    public const int FileTooLarge = unchecked((int)0xC0000904);
}

/// <summary>An answer the Windows semantics decide (a missing parent is STATUS_OBJECT_PATH_NOT_FOUND, not a FsError).</summary>
internal sealed class NtStatusException(int status, string message) : Exception(message)
{
    /// <summary>The NTSTATUS to answer.</summary>
    public int Status { get; } = status;
}

/// <summary>
/// The single table from Core's <see cref="FsError"/> to NTSTATUS, the counterpart of the Linux adapter's
/// FuseErrorMap. It follows WinFsp's own errno-to-NTSTATUS table for its FUSE layer (src/dll/fuse/errno.i),
/// so a program sees what it would see on any WinFsp file system for the same condition.
/// </summary>
internal static class NtStatusMap
{
    /// <summary>The NTSTATUS for an error of the Vfs.</summary>
    public static int ToNtStatus(FsError error) => error switch
    {
        FsError.NotFound => NtStatus.ObjectNameNotFound,        // ENOENT
        FsError.Exists => NtStatus.ObjectNameCollision,         // EEXIST
        FsError.NotEmpty => NtStatus.DirectoryNotEmpty,         // ENOTEMPTY
        FsError.NotDirectory => NtStatus.NotADirectory,         // ENOTDIR
        FsError.IsDirectory => NtStatus.FileIsADirectory,       // EISDIR
        FsError.ReadOnly => NtStatus.MediaWriteProtected,       // EROFS
        FsError.Stale => NtStatus.FileInvalid,                  // ESTALE: the object changed under an open handle
        FsError.NotSupported => NtStatus.NotSupported,          // ENOTSUP
        FsError.InvalidArgument => NtStatus.InvalidParameter,   // EINVAL
        FsError.CrossDevice => NtStatus.NotSameDevice,          // EXDEV
        FsError.AccessDenied => NtStatus.AccessDenied,          // EACCES
        FsError.NameTooLong => NtStatus.NameTooLong,            // ENAMETOOLONG
        FsError.BadHandle => NtStatus.InvalidHandle,            // EBADF
        FsError.NoSpace => NtStatus.DiskFull,                   // ENOSPC
        FsError.Unreachable => NtStatus.NetworkUnreachable,     // ENETUNREACH
        FsError.NoData => NtStatus.NonexistentEaEntry,          // ENODATA (no such extended attribute)
        FsError.NotPermitted => NtStatus.AccessDenied,          // EPERM
        FsError.FileTooLarge => NtStatus.FileTooLarge,          // EFBIG: past the store's largest object
        FsError.Overflow => NtStatus.IntegerOverflow,           // EOVERFLOW
        FsError.Interrupted => NtStatus.Cancelled,              // EINTR (WinFsp's table: STATUS_CANCELLED)
        _ => NtStatus.IoDeviceError,                            // EIO
    };

    /// <summary>The NTSTATUS for any exception an operation ended with.</summary>
    public static int From(Exception e) => e switch
    {
        NtStatusException nt => nt.Status,
        OperationCanceledException => NtStatus.Cancelled,
        _ => ToNtStatus(FileSystemException.Classify(e)),
    };
}
