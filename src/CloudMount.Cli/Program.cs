using System.CommandLine;
using CloudMount.Cli.Commands;
using CloudMount.Cli.Service;

namespace CloudMount.Cli;

/// <summary>Entry point of the <c>cloudmount</c> command.</summary>
public static class Program
{
    /// <summary>The command line this process was started with (what <c>--daemon</c> starts again).</summary>
    internal static IReadOnlyList<string> Arguments { get; private set; } = [];

    /// <summary>Runs the command line; returns the process exit code (0 success, 1 failure, 2 bad usage).</summary>
    public static async Task<int> Main(string[] args)
    {
        Arguments = args;
        if (OperatingSystem.IsLinux())
        {
            Daemon.DetachIfChild();
            if (args.Length > 0 && args[0] == MountHelper.CommandName)
            {
                return await MountHelper.RunAsync(args[1..], BuildRoot, CancellationToken.None).ConfigureAwait(false);
            }
        }
        var parse = BuildRoot().Parse(args);
        return await parse.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null }).ConfigureAwait(false);
    }

    /// <summary>Every command of <c>cloudmount</c>.</summary>
    internal static RootCommand BuildRoot()
    {
        var root = new RootCommand("CloudMount: mount cloud object storage (S3 and S3-compatible, local, memory) as a directory, and copy objects.")
        {
            ObjectCommands.CreateLs(),
            ObjectCommands.CreateCat(),
            ObjectCommands.CreateCp(),
            ObjectCommands.CreateRm(),
            ObjectCommands.CreateStat(),
            CacheCommand.Create(),
        };
        if (OperatingSystem.IsLinux())
        {
            root.Subcommands.Insert(0, DemoCommand.Create());
            root.Subcommands.Insert(0, MountCommand.Create());
        }
        else if (OperatingSystem.IsWindows())
        {
            root.Subcommands.Insert(0, MountCommand.Create());
        }
        return root;
    }
}
