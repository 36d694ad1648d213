using CloudMount.Core.Vfs;
using CloudMount.Windows.Interop;

namespace CloudMount.Windows;

/// <summary>
/// FILETIME and file attributes, in one place. Objects have one time (the Vfs's mtime: stored <c>mtime</c>
/// metadata or Last-Modified), shown as creation, last-access, last-write and change time alike. Directories get
/// FILE_ATTRIBUTE_DIRECTORY; files FILE_ATTRIBUTE_ARCHIVE (as NTFS gives new files), plus FILE_ATTRIBUTE_READONLY
/// on a read-only mount or when the owner may not write (mode without 0200). The index number (file id) is the
/// Vfs inode number. Allocation size is the size rounded up to the 4 KiB allocation unit.
/// </summary>
internal static class FileInfoMapper
{
    /// <summary>Bytes per allocation unit: SectorSize 4096 × SectorsPerAllocationUnit 1.</summary>
    public const uint AllocationUnit = 4096;

    /// <summary>FILETIME of the Unix epoch: 100 ns intervals from 1601-01-01 to 1970-01-01 (winfsp.h 1925-1931).</summary>
    public const long UnixEpochFileTime = 116444736000000000L;

    /// <summary>A FILETIME (100 ns since 1601-01-01 UTC) from a time; 0 for times before 1601.</summary>
    public static ulong ToFileTime(DateTimeOffset t)
    {
        long ticks = t.UtcTicks - new DateTime(1601, 1, 1, 0, 0, 0, DateTimeKind.Utc).Ticks;
        return ticks > 0 ? (ulong)ticks : 0;
    }

    /// <summary>The time a FILETIME names.</summary>
    public static DateTimeOffset FromFileTime(ulong fileTime) =>
        new(DateTime.FromFileTimeUtc((long)Math.Min(fileTime, MaxFileTime)));

    /// <summary>The FILETIME of <see cref="DateTime.MaxValue"/>.</summary>
    private const ulong MaxFileTime = 2650467743999999999UL;

    /// <summary>The attributes a node shows.</summary>
    public static uint Attributes(in NodeAttributes a, bool readOnlyMount)
    {
        if (a.Kind == NodeKind.Directory) return WinConstants.FileAttributeDirectory;
        uint attributes = WinConstants.FileAttributeArchive;
        if (readOnlyMount || (a.Mode & 0x80) == 0) attributes |= WinConstants.FileAttributeReadOnly;
        return attributes;
    }

    /// <summary>The FSP_FSCTL_FILE_INFO of a node.</summary>
    public static FspFileInfo ToFileInfo(in NodeAttributes a, bool readOnlyMount)
    {
        ulong time = ToFileTime(a.Mtime);
        ulong size = a.Kind == NodeKind.Directory ? 0 : (ulong)Math.Max(0, a.Size);
        return new FspFileInfo
        {
            FileAttributes = Attributes(a, readOnlyMount),
            AllocationSize = (size + AllocationUnit - 1) / AllocationUnit * AllocationUnit,
            FileSize = size,
            CreationTime = time,
            LastAccessTime = time,
            LastWriteTime = time,
            ChangeTime = time,
            IndexNumber = a.Ino,
        };
    }
}
