using System.Diagnostics;
using System.Text;

namespace CloudMount.Tests.Support;

/// <summary>The outcome of a finished process.</summary>
public sealed record ProcessResult(int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed)
{
    /// <summary>Non-empty stderr lines.</summary>
    public string[] StderrLines => Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>True when the process was killed at its timeout.</summary>
    public bool TimedOut => ExitCode == -1 && Stderr.Contains("[killed after", StringComparison.Ordinal);

    public override string ToString() => $"exit {ExitCode} after {Elapsed.TotalSeconds:0.0}s\nstdout: {Stdout}\nstderr: {Stderr}";
}

/// <summary>Runs programs and shell commands for tests.</summary>
public static class ProcessRunner
{
    /// <summary>Runs <paramref name="file"/> with arguments and waits (killing it after <paramref name="timeout"/>).</summary>
    public static async Task<ProcessResult> RunAsync(string file, IEnumerable<string> args, IDictionary<string, string?>? env = null,
        TimeSpan? timeout = null, string? stdin = null, string? workingDirectory = null)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            WorkingDirectory = workingDirectory ?? Paths.Scratch,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        if (env is not null)
        {
            foreach (var (k, v) in env)
            {
                if (v is null) psi.Environment.Remove(k);
                else psi.Environment[k] = v;
            }
        }
        var sw = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            await p.StandardInput.WriteAsync(stdin);
            p.StandardInput.Close();
        }
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(2));
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            await p.WaitForExitAsync();
            return new ProcessResult(-1, await stdout, await stderr + $"\n[killed after {sw.Elapsed.TotalSeconds:0}s]", sw.Elapsed);
        }
        return new ProcessResult(p.ExitCode, await stdout, await stderr, sw.Elapsed);
    }

    /// <summary>Runs a bash command line.</summary>
    public static Task<ProcessResult> BashAsync(string command, IDictionary<string, string?>? env = null, TimeSpan? timeout = null, string? cwd = null) =>
        RunAsync("/bin/bash", ["-c", command], env, timeout, null, cwd);

    /// <summary>Runs a bash command line and fails the test unless it exits 0; returns stdout.</summary>
    public static async Task<string> BashOkAsync(string command, IDictionary<string, string?>? env = null, TimeSpan? timeout = null, string? cwd = null)
    {
        var r = await BashAsync(command, env, timeout, cwd);
        if (r.ExitCode != 0)
        {
            throw new AssertionException($"`{command}` failed: {r}");
        }
        return r.Stdout;
    }

    /// <summary>Runs <c>cloudmount</c> with arguments.</summary>
    public static Task<ProcessResult> CloudMountAsync(IEnumerable<string> args, IDictionary<string, string?>? env = null, TimeSpan? timeout = null, string? stdin = null) =>
        RunAsync("dotnet", new[] { Paths.CloudMountDll }.Concat(args), env, timeout, stdin);

    /// <summary>Quotes a string for bash.</summary>
    public static string Q(string s) => "'" + s.Replace("'", "'\\''") + "'";

    /// <summary>Hex of a byte array, for readable assertion messages.</summary>
    public static string Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(bytes);

    internal static string Utf8(byte[] b) => Encoding.UTF8.GetString(b);
}
