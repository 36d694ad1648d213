using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace CloudMount.Cli.Service;

/// <summary>
/// <c>--daemon</c>: runs a mount in the background and returns only once it is ready. The launcher starts this
/// program again with the same command line (without <c>--daemon</c>, with <c>--log-file</c>), in a new session
/// and with its standard input, output and error on <c>/dev/null</c> and the log file, and listens on a
/// notify socket of its own that it names in the child's <c>NOTIFY_SOCKET</c>: the child reports
/// <c>READY=1</c> once mounted (the systemd protocol, <see cref="ServiceNotify"/>), or its one-line error as
/// <c>STATUS=</c> before it exits. The wait is bounded by <see cref="ReadyTimeout"/>, beyond the child's own
/// bounds (20 s store check, 10 s FUSE INIT).
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal static class Daemon
{
    /// <summary>Set (to the log file) in the child's environment; the child takes it out again.</summary>
    public const string ChildVariable = "CLOUDMOUNT_DAEMON_LOG";

    /// <summary>The longest the launcher waits for READY=1 before it stops the child and fails.</summary>
    public static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(90);

    /// <summary>True in a background mount started by <see cref="LaunchAsync"/> (after <see cref="DetachIfChild"/>).</summary>
    public static bool IsChild { get; private set; }

    /// <summary>
    /// In a child started by <see cref="LaunchAsync"/> (its environment says so): leaves the launcher's session
    /// and points standard input at /dev/null and standard output and error at the log file, so that nothing
    /// the process prints is lost or written to a terminal that has gone. Elsewhere does nothing.
    /// </summary>
    public static void DetachIfChild()
    {
        string? log = Environment.GetEnvironmentVariable(ChildVariable);
        if (string.IsNullOrEmpty(log)) return;
        Environment.SetEnvironmentVariable(ChildVariable, null);
        IsChild = true;
        Posix.SetSid();
        int fd = Posix.Open(log, Posix.OpenAppend, 0x1A0 /* 0640 */);
        if (fd >= 0)
        {
            Posix.Dup2(fd, 1);
            Posix.Dup2(fd, 2);
            if (fd > 2) Posix.Close(fd);
        }
        int nul = Posix.Open("/dev/null", Posix.OpenReadOnly, 0);
        if (nul >= 0)
        {
            Posix.Dup2(nul, 0);
            if (nul > 2) Posix.Close(nul);
        }
    }

    /// <summary>
    /// Starts <c>cloudmount ARGS</c> in the background, logging to <paramref name="logFile"/>, and waits until
    /// it reports the mount ready. Returns 0 then (printing <c>PREFIX: mounted ...</c> unless
    /// <paramref name="quiet"/>); otherwise prints the mount's own one-line error on stderr and returns its
    /// exit code (1 or 2), or 1 when it did not become ready in time (it is stopped then).
    /// </summary>
    /// <param name="args">The child's command line (a mount or demo command) without <c>--daemon</c>.</param>
    /// <param name="logFile">Where the child logs (added to its command line as <c>--log-file</c>).</param>
    /// <param name="environment">Variables to set (a value) or remove (null) in the child's environment.</param>
    /// <param name="prefix">How messages start: <c>cloudmount</c> or <c>mount.cloudmount</c>.</param>
    /// <param name="quiet">Print nothing on success (mount helpers are silent when they succeed).</param>
    /// <param name="ct">Cancels the wait: the child is stopped (SIGTERM) and the call returns 1.</param>
    public static async Task<int> LaunchAsync(IReadOnlyList<string> args, string logFile, IReadOnlyDictionary<string, string?>? environment,
        string prefix, bool quiet, CancellationToken ct)
    {
        logFile = Path.GetFullPath(logFile);
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(logFile)!);
            using (new FileStream(logFile, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"{prefix}: error: cannot write the log file {logFile}: {e.Message}");
            return 1;
        }
        long logStart = new FileInfo(logFile).Length;
        var folder = Directory.CreateTempSubdirectory("cloudmount-notify-");
        string socketPath = Path.Combine(folder.FullName, "notify");
        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            socket.Bind(new UnixDomainSocketEndPoint(socketPath));
            using var child = StartChild(args, logFile, socketPath, environment);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(ReadyTimeout);
            var exited = child.WaitForExitAsync(CancellationToken.None);
            string? status = null;
            var buffer = new byte[4096];
            while (true)
            {
                var receive = socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token).AsTask();
                await Task.WhenAny(receive, exited).ConfigureAwait(false);
                if (!receive.IsCompleted)
                {
                    // The child ended: take what it sent last (its error) before giving up on the socket.
                    status = DrainStatus(socket, buffer) ?? status;
                    timeout.Cancel();
                    await receive.ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
                    string reason = status ?? LastLine(logFile, logStart) ?? $"the mount exited with status {child.ExitCode} before it was ready";
                    Console.Error.WriteLine(Reword(reason, prefix, logFile));
                    return child.ExitCode is 0 or 1 ? 1 : child.ExitCode;
                }
                int n;
                try
                {
                    n = await receive.ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    Stop(child);
                    Console.Error.WriteLine(ct.IsCancellationRequested
                        ? $"{prefix}: error: interrupted before the mount was ready (log: {logFile})"
                        : $"{prefix}: error: the mount was not ready within {ReadyTimeout.TotalSeconds:0} s; stopped it (log: {logFile})");
                    return 1;
                }
                var fields = Parse(Encoding.UTF8.GetString(buffer, 0, n));
                if (fields.TryGetValue("STATUS", out var s)) status = s;
                if (fields.TryGetValue("READY", out var ready) && ready == "1")
                {
                    if (!quiet) Console.Error.WriteLine($"{prefix}: {status ?? "mounted"} in the background (pid {child.Id}); log: {logFile}");
                    return 0;
                }
            }
        }
        finally
        {
            try
            {
                folder.Delete(recursive: true);
            }
            catch (IOException)
            {
                // Best effort: the folder is in the temporary directory.
            }
        }
    }

    private static Process StartChild(IReadOnlyList<string> args, string logFile, string socketPath, IReadOnlyDictionary<string, string?>? environment)
    {
        string exe = Environment.ProcessPath ?? throw new InvalidOperationException("cannot tell which program this is");
        var psi = new ProcessStartInfo(exe)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // Under `dotnet cloudmount.dll` the host is the process; the program is the entry assembly beside it.
        if (Path.GetFileNameWithoutExtension(exe) == "dotnet") psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "cloudmount.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.ArgumentList.Add("--log-file");
        psi.ArgumentList.Add(logFile);
        foreach (var (k, v) in environment ?? new Dictionary<string, string?>())
        {
            if (v is null) psi.Environment.Remove(k); else psi.Environment[k] = v;
        }
        psi.Environment[ServiceNotify.SocketVariable] = socketPath;
        psi.Environment[ChildVariable] = logFile;
        var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {exe}");
        // The child writes to the log file, never to these pipes: close them so no caller waits on them.
        p.StandardInput.Close();
        p.StandardOutput.Close();
        p.StandardError.Close();
        return p;
    }

    /// <summary>KEY=VALUE lines of one notify datagram.</summary>
    internal static Dictionary<string, string> Parse(string datagram)
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in datagram.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = line.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0) fields[line[..eq]] = line[(eq + 1)..];
        }
        return fields;
    }

    private static string? DrainStatus(Socket socket, byte[] buffer)
    {
        string? status = null;
        while (socket.Available > 0)
        {
            int n = socket.Receive(buffer);
            if (Parse(Encoding.UTF8.GetString(buffer, 0, n)).TryGetValue("STATUS", out var s)) status = s;
        }
        return status;
    }

    /// <summary>The last non-empty line the child wrote to the log after <paramref name="offset"/>.</summary>
    private static string? LastLine(string logFile, long offset)
    {
        try
        {
            using var f = new FileStream(logFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            f.Seek(Math.Min(offset, f.Length), SeekOrigin.Begin);
            using var r = new StreamReader(f);
            return r.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault();
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>The child's <c>cloudmount: error: X</c> as <c>PREFIX: error: X</c>; other lines get that prefix.</summary>
    private static string Reword(string line, string prefix, string logFile)
    {
        const string Ours = "cloudmount: error: ";
        if (line.StartsWith(Ours, StringComparison.Ordinal)) return $"{prefix}: error: {line[Ours.Length..]}";
        return $"{prefix}: error: the mount failed: {line} (log: {logFile})";
    }

    private static void Stop(Process child)
    {
        try
        {
            if (!child.HasExited)
            {
                Posix.Kill(child.Id, Posix.SigTerm); // the mount's own clean shutdown
                if (!child.WaitForExit(TimeSpan.FromSeconds(30))) child.Kill();
            }
        }
        catch (InvalidOperationException)
        {
            // It ended meanwhile.
        }
    }
}
