namespace CloudMount.Windows;

/// <summary>
/// Checks a Windows mount point before anything is requested from the store: a drive letter (<c>X:</c>) that is
/// free, <c>*</c> for the next free letter, or a directory that does not exist yet under one that does (WinFsp
/// makes it the mount point, FspFileSystemSetMountPoint). Platform-neutral (the checks are given), so it is
/// tested anywhere.
/// </summary>
public static class WindowsMountPoint
{
    /// <summary>Returns the mount point to hand WinFsp (<c>X:</c>, <c>*</c> or a full path).</summary>
    /// <param name="mountPoint">What the user gave.</param>
    /// <param name="exists">Whether a path (a drive root <c>X:\</c> or a directory) exists.</param>
    /// <param name="fullPath">Makes a path absolute.</param>
    /// <exception cref="ArgumentException">A one-line reason the mount point cannot be used.</exception>
    public static string Check(string mountPoint, Func<string, bool> exists, Func<string, string> fullPath)
    {
        string m = mountPoint.Trim();
        if (m == "*") return m;
        if (m.Length is 2 or 3 && char.IsAsciiLetter(m[0]) && m[1] == ':' && (m.Length == 2 || m[2] is '\\' or '/'))
        {
            string drive = char.ToUpperInvariant(m[0]) + ":";
            if (exists(drive + "\\")) throw new ArgumentException($"drive {drive} is in use; pick a free letter or * for the next free one");
            return drive;
        }
        string path = fullPath(m).TrimEnd('\\', '/');
        if (exists(path)) throw new ArgumentException($"{path} exists; WinFsp mounts on a folder that does not exist yet (it creates it), or on a drive letter such as X:");
        int cut = path.LastIndexOfAny(['\\', '/']);
        string? parent = cut > 0 ? path[..cut] : null;
        if (parent is { Length: 2 } && parent[1] == ':') parent += "\\";
        if (parent is null || !exists(parent)) throw new ArgumentException($"the folder that would hold {path} does not exist");
        return path;
    }
}
