using System.Runtime.InteropServices;

namespace CloudMount.Core.Caching;

/// <summary>syncfs(2): one flush of every file of a filesystem, in place of a flush per file.</summary>
internal static partial class FileSystemSync
{
    private const int ORdOnly = 0, ODirectory = 0x10000, OCloexec = 0x80000;

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "syncfs", SetLastError = true)]
    private static partial int SyncFs(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);

    /// <summary>Flushes the filesystem holding <paramref name="directory"/>; false where that is not possible (not Linux, an error).</summary>
    public static bool TrySync(string directory)
    {
        if (!OperatingSystem.IsLinux()) return false;
        int fd = Open(directory, ORdOnly | ODirectory | OCloexec);
        if (fd < 0) return false;
        try
        {
            return SyncFs(fd) == 0;
        }
        finally
        {
            Close(fd);
        }
    }
}
