using System.Net.Sockets;
using System.Text;

namespace CloudMount.Cli.Service;

/// <summary>
/// The client side of systemd's readiness protocol (sd_notify(3)): datagrams of <c>KEY=VALUE</c> lines sent to
/// the Unix socket named by <c>NOTIFY_SOCKET</c> (a path, or an abstract name written with a leading <c>@</c>).
/// A unit with <c>Type=notify</c> counts as started at <c>READY=1</c>; <c>STOPPING=1</c> says the service is
/// shutting down; <c>STATUS=</c> is the line <c>systemctl status</c> shows. <c>cloudmount mount --daemon</c>
/// uses the same protocol to learn when its background mount is ready. Without <c>NOTIFY_SOCKET</c> every
/// call does nothing. Sending never throws: a service manager that went away must not break the mount.
/// </summary>
internal static class ServiceNotify
{
    /// <summary>The variable systemd sets for <c>Type=notify</c> services.</summary>
    public const string SocketVariable = "NOTIFY_SOCKET";

    // 0 until STOPPING=1 was sent once (a signal and the end of the FUSE loop both report it).
    private static int _stoppingSent;

    /// <summary>Reports the mount ready: <c>READY=1</c>, with <paramref name="status"/> as STATUS and this process as MAINPID.</summary>
    public static void Ready(string status) => Send($"READY=1\nSTATUS={OneLine(status)}\nMAINPID={Environment.ProcessId}\n");

    /// <summary>Reports that the mount is being unmounted (<c>STOPPING=1</c>); only the first call sends.</summary>
    public static void Stopping(string status)
    {
        if (Interlocked.Exchange(ref _stoppingSent, 1) == 0) Send($"STOPPING=1\nSTATUS={OneLine(status)}\n");
    }

    /// <summary>Reports why the mount failed (<c>STATUS=</c> the one-line error), before the process exits non-zero.</summary>
    public static void Failed(string errorLine) => Send($"STATUS={OneLine(errorLine)}\n");

    /// <summary>Sends <paramref name="message"/> to <c>$NOTIFY_SOCKET</c>; returns false when there is none or sending failed.</summary>
    public static bool Send(string message)
    {
        string? target = Environment.GetEnvironmentVariable(SocketVariable);
        if (string.IsNullOrEmpty(target) || (target[0] != '/' && target[0] != '@')) return false;
        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            socket.SendTo(Encoding.UTF8.GetBytes(message), new UnixDomainSocketEndPoint(target[0] == '@' ? "\0" + target[1..] : target));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static string OneLine(string s) => s.ReplaceLineEndings(" ");
}
