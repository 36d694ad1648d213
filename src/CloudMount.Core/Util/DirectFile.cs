using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace CloudMount.Core;

/// <summary>
/// Opens files for direct I/O (O_DIRECT on Linux): reads and writes bypass the page cache, so a cache file does
/// not hold its bytes in memory a second time, and writing it costs no page-cache copies. Buffers, offsets and
/// lengths must be multiples of <see cref="BufferPool.Alignment"/>.
/// </summary>
internal static partial class DirectFile
{
    private const int ORdWr = 0x2, OCreat = 0x40, ODirect = 0x4000, OCloexec = 0x80000;

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags, int mode);

    /// <summary>
    /// Opens (creating if needed, mode 0600) <paramref name="path"/> for direct I/O; <c>null</c> where that is not
    /// possible (not Linux, or a filesystem such as tmpfs that refuses O_DIRECT).
    /// </summary>
    public static SafeFileHandle? TryOpen(string path)
    {
        if (!OperatingSystem.IsLinux()) return null;
        int fd = Open(path, ORdWr | OCreat | ODirect | OCloexec, Convert.ToInt32("600", 8));
        return fd < 0 ? null : new SafeFileHandle(fd, ownsHandle: true);
    }
}
