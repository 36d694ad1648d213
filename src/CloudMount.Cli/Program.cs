using System.CommandLine;
using CloudMount.Cli.Commands;

namespace CloudMount.Cli;

/// <summary>Entry point of the <c>cloudmount</c> command.</summary>
public static class Program
{
    /// <summary>Runs the command line; returns the process exit code (0 success, 1 failure, 2 bad usage).</summary>
    public static async Task<int> Main(string[] args)
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
        var parse = root.Parse(args);
        return await parse.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null }).ConfigureAwait(false);
    }
}
