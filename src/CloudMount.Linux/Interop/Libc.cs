using System.Runtime.InteropServices;

namespace CloudMount.Linux.Interop;

/// <summary>The few libc calls the adapter needs. Functions return -1 and set errno on failure.</summary>
internal static partial class Libc
{
    /// <summary>Real user id of the process.</summary>
    [LibraryImport("libc", EntryPoint = "getuid")]
    public static partial uint GetUid();

    /// <summary>Real group id of the process.</summary>
    [LibraryImport("libc", EntryPoint = "getgid")]
    public static partial uint GetGid();

    /// <summary>Effective user id of the process.</summary>
    [LibraryImport("libc", EntryPoint = "geteuid")]
    public static partial uint GetEuid();

    /// <summary>umount2(2). Returns 0, or -1 with errno (EBUSY while files are open).</summary>
    [LibraryImport("libc", EntryPoint = "umount2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Umount2(string target, int flags);

    /// <summary>stat(2) (glibc 2.33+ exports it). Returns 0, or -1 with errno.</summary>
    [LibraryImport("libc", EntryPoint = "stat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int StatPath(string path, out Stat buf);

    /// <summary>S_IFMT mask and the types we check.</summary>
    public const uint SIfMt = 0xF000, SIfChr = 0x2000, SIfDir = 0x4000, SIfReg = 0x8000;

    /// <summary>The file type bits (S_IFMT) of <paramref name="path"/>, following links, or <c>null</c> if it cannot be stat'ed.</summary>
    public static uint? FileType(string path) => StatPath(path, out var st) == 0 ? st.StMode & SIfMt : null;

    /// <summary>The device number (st_dev) of <paramref name="path"/>, or <c>null</c>.</summary>
    public static ulong? DeviceOf(string path) => StatPath(path, out var st) == 0 ? st.StDev : null;

    /// <summary>MNT_DETACH: lazy unmount.</summary>
    public const int MntDetach = 2;
}
