using System.CommandLine;

namespace CloudMount.Cli.Service;

/// <summary>
/// <c>/sbin/mount.cloudmount</c> (which runs <c>cloudmount mount-helper "$@"</c>): what mount(8) calls for an
/// fstab line or <c>mount -t cloudmount</c>, as
/// <c>mount.cloudmount SPEC DIR [-sfnv] [-N NS] [-o OPTIONS] [-t TYPE]</c>. It maps the options
/// (<see cref="FstabOptions"/>), checks the resulting command line, then starts the mount in the background
/// (<see cref="Daemon"/>) and returns 0 only once the mount is up; otherwise it prints the mount's own
/// one-line error and returns mount(8)'s codes: 1 for bad usage, 32 for a failed mount.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal static class MountHelper
{
    /// <summary>How its messages start.</summary>
    public const string Prefix = "mount.cloudmount";

    /// <summary>The hidden subcommand the /sbin script runs.</summary>
    public const string CommandName = "mount-helper";

    /// <summary>What mount(8) called: source, mount point, options and flags.</summary>
    internal sealed record Invocation(string Source, string MountPoint, string Options, bool Sloppy, bool Fake, bool Verbose);

    /// <summary>Runs the helper with mount(8)'s arguments (after <c>mount-helper</c>).</summary>
    public static async Task<int> RunAsync(string[] argv, Func<RootCommand> buildRoot, CancellationToken ct)
    {
        try
        {
            var call = ParseArguments(argv);
            var args = CommandLine(call, buildRoot, out var mapped);
            foreach (var s in mapped.Skipped) Console.Error.WriteLine($"{Prefix}: ignoring unknown option '{s}' (sloppy mount)");
            if (call.Verbose) Console.Error.WriteLine($"{Prefix}: cloudmount {string.Join(' ', args)}");
            if (call.Fake) return 0;
            int rc = await Daemon.LaunchAsync(args, mapped.LogFile ?? LogFile.DefaultPath(call.MountPoint), mapped.Environment, Prefix, quiet: !call.Verbose, ct)
                .ConfigureAwait(false);
            return rc switch { 0 => 0, 2 => 1, _ => 32 };
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"{Prefix}: error: {e.Message}");
            return 1;
        }
    }

    /// <summary>Reads mount(8)'s argument vector.</summary>
    /// <exception cref="UsageException">Not SPEC DIR followed by the flags mount(8) passes.</exception>
    internal static Invocation ParseArguments(IReadOnlyList<string> argv)
    {
        var positional = new List<string>();
        var options = new List<string>();
        bool sloppy = false, fake = false, verbose = false;
        for (int i = 0; i < argv.Count; i++)
        {
            string a = argv[i];
            if (a == "-o" || a == "-t" || a == "-N")
            {
                if (i + 1 >= argv.Count) throw new UsageException($"{a} needs a value");
                string v = argv[++i];
                if (a == "-o") options.Add(v);
                else if (a == "-N") throw new UsageException("-N (mounting in another namespace) is not supported");
                continue;
            }
            if (a.StartsWith("-o", StringComparison.Ordinal) && a.Length > 2)
            {
                options.Add(a[2..]);
                continue;
            }
            if (a.Length > 1 && a[0] == '-' && a[1..].All(c => c is 's' or 'f' or 'n' or 'v'))
            {
                sloppy |= a.Contains('s', StringComparison.Ordinal);
                fake |= a.Contains('f', StringComparison.Ordinal);
                verbose |= a.Contains('v', StringComparison.Ordinal);
                continue;
            }
            if (a.StartsWith('-') && positional.Count >= 2) throw new UsageException($"unknown flag {a}");
            positional.Add(a);
        }
        if (positional.Count != 2)
        {
            throw new UsageException("usage: mount.cloudmount URL DIR [-sfnv] [-o OPTIONS] (as mount(8) calls it for an fstab line of type cloudmount)");
        }
        return new Invocation(positional[0], Path.GetFullPath(positional[1]), string.Join(',', options), sloppy, fake, verbose);
    }

    /// <summary>The <c>cloudmount mount ...</c> command line for <paramref name="call"/>, checked by the real parser.</summary>
    /// <exception cref="UsageException">An option is unknown or its value does not parse.</exception>
    internal static List<string> CommandLine(Invocation call, Func<RootCommand> buildRoot, out FstabOptions mapped)
    {
        var mount = buildRoot().Subcommands.First(c => c.Name == "mount");
        mapped = FstabOptions.Map(call.Options, mount.Options, call.Sloppy);
        var args = new List<string> { "mount", call.Source, call.MountPoint };
        args.AddRange(mapped.Arguments);
        var parse = buildRoot().Parse(args);
        if (parse.Errors.Count > 0)
        {
            // "Cannot parse argument 'abc' for option '--uid' as expected type 'System.Nullable`1[...]'." names a .NET type.
            string message = System.Text.RegularExpressions.Regex.Replace(parse.Errors[0].Message, @" as expected type '[^']*'\.?", "");
            throw new UsageException(message.Replace("option '--", "option '", StringComparison.Ordinal));
        }
        return args;
    }
}
