using CloudMount.Core.Vfs;
using CloudMount.Linux.Interop;

namespace CloudMount.Linux;

/// <summary>The single table from Core's <see cref="FsError"/> to Linux errno.</summary>
internal static class FuseErrorMap
{
    public static int ToErrno(FsError error) => error switch
    {
        FsError.NotFound => Errno.ENOENT,
        FsError.Exists => Errno.EEXIST,
        FsError.NotEmpty => Errno.ENOTEMPTY,
        FsError.NotDirectory => Errno.ENOTDIR,
        FsError.IsDirectory => Errno.EISDIR,
        FsError.ReadOnly => Errno.EROFS,
        FsError.Stale => Errno.ESTALE,
        FsError.NotSupported => Errno.EOPNOTSUPP,
        FsError.InvalidArgument => Errno.EINVAL,
        FsError.CrossDevice => Errno.EXDEV,
        FsError.AccessDenied => Errno.EACCES,
        FsError.NameTooLong => Errno.ENAMETOOLONG,
        FsError.BadHandle => Errno.EBADF,
        FsError.NoSpace => Errno.ENOSPC,
        FsError.Unreachable => Errno.ENETUNREACH,
        FsError.NoData => Errno.ENODATA,
        FsError.NotPermitted => Errno.EPERM,
        FsError.FileTooLarge => Errno.EFBIG,
        FsError.Overflow => Errno.EOVERFLOW,
        FsError.Interrupted => Errno.EINTR,
        _ => Errno.EIO,
    };
}
