using System.Text;

namespace CloudMount.Linux;

/// <summary>A mount could not be set up; the message is one line for the user.</summary>
public sealed class MountException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Checks made before anything is mounted, so that each common mistake gets one clear line and nothing is left
/// behind: the FUSE device, the fusermount3 helper, and the mount point (missing, not a directory, already a
/// mount point, or a dead FUSE mount).
/// </summary>
public static class MountPreflight
{
    /// <summary>Where libfuse looks for fusermount3 first (FUSERMOUNT_DIR), then PATH.</summary>
    public const string FusermountPath = "/usr/bin/fusermount3";

    /// <summary>Runs every check.</summary>
    /// <param name="mountPoint">The directory to mount on.</param>
    /// <param name="fuseDevice">The FUSE device, normally <c>/dev/fuse</c>.</param>
    /// <exception cref="MountException">A check failed.</exception>
    public static string Check(string mountPoint, string fuseDevice = "/dev/fuse")
    {
        CheckDevice(fuseDevice);
        CheckFusermount();
        return CheckMountPoint(mountPoint);
    }

    /// <summary>The FUSE device must exist and be a character device.</summary>
    /// <exception cref="MountException">It does not.</exception>
    public static void CheckDevice(string fuseDevice)
    {
        if (Interop.Libc.FileType(fuseDevice) is not { } type)
        {
            throw new MountException($"{fuseDevice} does not exist: load the fuse kernel module (modprobe fuse) or, in a container, pass --device /dev/fuse");
        }
        if (type != Interop.Libc.SIfChr)
        {
            throw new MountException($"{fuseDevice} is not the FUSE character device");
        }
    }

    /// <summary>fusermount3 must be present: we mount with auto_unmount, which needs it to clean up after a crash.</summary>
    /// <exception cref="MountException">It is missing or not executable.</exception>
    public static void CheckFusermount()
    {
        if (FindFusermount() is null)
        {
            throw new MountException("fusermount3 not found (looked in /usr/bin and PATH): install it with `apt-get install fuse3`");
        }
    }

    /// <summary>The path of an executable fusermount3, or <c>null</c>.</summary>
    public static string? FindFusermount()
    {
        var candidates = new List<string> { FusermountPath };
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            candidates.Add(Path.Combine(dir, "fusermount3"));
        }
        foreach (var c in candidates)
        {
            try
            {
                if (Interop.Libc.FileType(c) == Interop.Libc.SIfReg && new FileInfo(c).Length > 0
                    && (File.GetUnixFileMode(c) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0)
                {
                    return c;
                }
            }
            catch (IOException)
            {
                // Unreadable candidate: try the next.
            }
        }
        return null;
    }

    /// <summary>The mount point must be an existing directory that is not already a mount point.</summary>
    /// <returns>Its absolute path.</returns>
    /// <exception cref="MountException">It is missing, not a directory, busy, or a dead FUSE mount.</exception>
    public static string CheckMountPoint(string mountPoint)
    {
        string full = Path.GetFullPath(mountPoint).TrimEnd('/');
        if (full.Length == 0) full = "/";
        try
        {
            if (File.Exists(full))
            {
                throw new MountException($"mount point {full} is not a directory");
            }
            if (!Directory.Exists(full))
            {
                // A dead FUSE mount ("Transport endpoint is not connected") also fails Directory.Exists.
                if (IsMountPoint(full))
                {
                    throw new MountException($"mount point {full} is a dead FUSE mount: run `fusermount3 -u {full}` first");
                }
                throw new MountException($"mount point {full} does not exist: create it with `mkdir -p {full}`");
            }
            Directory.EnumerateFileSystemEntries(full).Take(1).ToList();
        }
        catch (IOException e)
        {
            throw new MountException($"mount point {full} cannot be used: {e.Message}" +
                (e.Message.Contains("not connected", StringComparison.OrdinalIgnoreCase) ? $"; run `fusermount3 -u {full}`" : ""), e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new MountException($"mount point {full} is not accessible: {e.Message}", e);
        }
        if (IsMountPoint(full))
        {
            throw new MountException($"mount point {full} is busy: something is already mounted there (unmount it first)");
        }
        return full;
    }

    /// <summary>True when <paramref name="path"/> (absolute) is listed in /proc/self/mountinfo.</summary>
    public static bool IsMountPoint(string path)
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/mountinfo"))
            {
                var fields = line.Split(' ');
                if (fields.Length > 4 && Unescape(fields[4]) == path)
                {
                    return true;
                }
            }
        }
        catch (IOException)
        {
            // No /proc: cannot tell; mount(2) will say.
        }
        return false;
    }

    /// <summary>Decodes the octal escapes (\040 for space) of mountinfo.</summary>
    private static string Unescape(string s)
    {
        if (!s.Contains('\\')) return s;
        var bytes = new List<byte>();
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == '\\' && IsOctal(s, i + 1))
            {
                bytes.Add((byte)Convert.ToInt32(s.Substring(i + 1, 3), 8));
                i += 3;
            }
            else
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(s[i].ToString()));
            }
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    private static bool IsOctal(string s, int at) =>
        at + 3 <= s.Length && s.Substring(at, 3).All(c => c is >= '0' and <= '7');
}
