using System.Runtime.InteropServices;

namespace CloudMount.Cli.Service;

/// <summary>The libc calls a background mount needs to leave its terminal. Each returns -1 and sets errno on failure.</summary>
internal static partial class Posix
{
    /// <summary>O_WRONLY | O_CREAT | O_APPEND.</summary>
    public const int OpenAppend = 0x1 | 0x40 | 0x400;

    /// <summary>O_RDONLY.</summary>
    public const int OpenReadOnly = 0;

    /// <summary>setsid(2): a new session with no controlling terminal. Returns the session id.</summary>
    [LibraryImport("libc", EntryPoint = "setsid", SetLastError = true)]
    public static partial int SetSid();

    /// <summary>open(2) with a mode for created files. Returns the descriptor.</summary>
    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags, uint mode);

    /// <summary>dup2(2): makes <paramref name="newFd"/> a copy of <paramref name="oldFd"/>. Returns <paramref name="newFd"/>.</summary>
    [LibraryImport("libc", EntryPoint = "dup2", SetLastError = true)]
    public static partial int Dup2(int oldFd, int newFd);

    /// <summary>SIGTERM.</summary>
    public const int SigTerm = 15;

    /// <summary>kill(2). Returns 0.</summary>
    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    public static partial int Kill(int pid, int signal);

    /// <summary>close(2). Returns 0.</summary>
    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);
}
