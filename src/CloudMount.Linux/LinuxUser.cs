using CloudMount.Linux.Interop;

namespace CloudMount.Linux;

/// <summary>The identity of this process, for default owners of mounted files.</summary>
public static class LinuxUser
{
    /// <summary>Real user id.</summary>
    public static uint Uid => Libc.GetUid();

    /// <summary>Real group id.</summary>
    public static uint Gid => Libc.GetGid();
}
