using System.Text;

namespace CloudMount.Core.Vfs;

/// <summary>
/// The documented rule for keys that cannot be paths. A key's segment becomes a directory entry only when it
/// is a valid file name: not empty (as in <c>a//b</c>), not <c>.</c> or <c>..</c>, no NUL, at most 255 UTF-8
/// bytes. Keys with an invalid segment are left out of listings (with a log line) and are never created by a
/// mount. When one name is both an object and a prefix (<c>a</c> and <c>a/b</c>), the directory wins and the
/// object is hidden, as mountpoint-s3 does; the object is still reachable with <c>cloudmount cat</c>.
/// </summary>
public static class KeyNames
{
    /// <summary>Longest name in bytes (Linux NAME_MAX).</summary>
    public const int NameMax = 255;

    /// <summary>True when <paramref name="name"/> can be a directory entry.</summary>
    public static bool IsValidName(string name) =>
        name.Length > 0
        && name != "."
        && name != ".."
        && !name.Contains('/')
        && !name.Contains('\0')
        && Encoding.UTF8.GetByteCount(name) <= NameMax;

    /// <summary>Checks a name that a caller asked to create.</summary>
    /// <exception cref="FileSystemException">NameTooLong or InvalidArgument.</exception>
    public static void Validate(string name)
    {
        if (Encoding.UTF8.GetByteCount(name) > NameMax)
        {
            throw new FileSystemException(FsError.NameTooLong, $"name longer than {NameMax} bytes");
        }
        if (!IsValidName(name))
        {
            throw new FileSystemException(FsError.InvalidArgument, $"'{name}' cannot be a key segment");
        }
    }
}
