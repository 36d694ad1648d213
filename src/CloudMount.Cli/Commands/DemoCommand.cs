using System.CommandLine;
using System.Reflection;

namespace CloudMount.Cli.Commands;

/// <summary>
/// <c>cloudmount demo [MOUNTPOINT]</c>: writes the sample bucket embedded in this program into a local folder
/// (a <c>file://</c> store) and mounts it, so a newcomer can <c>ls</c> and <c>cat</c> at once.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal static class DemoCommand
{
    private const string ResourcePrefix = "sample/";

    public static Command Create()
    {
        var mountPoint = new Argument<string>("mountpoint") { Description = "Where to mount (created if missing)", DefaultValueFactory = _ => "mnt" };
        var bucketDir = new Option<string?>("--bucket-dir") { Description = "Folder holding the sample bucket (default: $XDG_DATA_HOME/cloudmount/demo-bucket or ~/.local/share/cloudmount/demo-bucket)" };
        var options = new MountCommand.MountOptions();
        var command = new Command("demo", "Mount a local sample bucket (embedded default) to try CloudMount") { mountPoint };
        command.Options.Add(bucketDir);
        options.AddTo(command);
        command.SetAction((parse, ct) =>
        {
            string dir = parse.GetValue(bucketDir) ?? DefaultBucketDir();
            int written = WriteSample(dir);
            string mp = parse.GetValue(mountPoint)!;
            Directory.CreateDirectory(mp);
            Console.Error.WriteLine($"cloudmount: sample bucket in {dir} ({written} files written)");
            return MountCommand.RunAsync("file://" + Path.GetFullPath(dir), mp, options, parse,
                m => $"Mounted the sample bucket on {m}. In another terminal try:\n  ls -lR {m}\n  cat {m}/hello.txt\n  python3 {m}/scripts/summarize.py\nPress Ctrl-C here to unmount.", ct);
        });
        return command;
    }

    private static string DefaultBucketDir()
    {
        string? xdg = Environment.GetEnvironmentVariable("XDG_DATA_HOME");
        string home = Environment.GetEnvironmentVariable("HOME") ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return Path.Combine(string.IsNullOrEmpty(xdg) ? Path.Combine(home, ".local", "share") : xdg, "cloudmount", "demo-bucket");
    }

    /// <summary>Writes every embedded sample file that is missing; returns how many were written.</summary>
    internal static int WriteSample(string dir)
    {
        var asm = Assembly.GetExecutingAssembly();
        int written = 0;
        foreach (string name in asm.GetManifestResourceNames().Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal)))
        {
            string rel = name[ResourcePrefix.Length..].Replace('\\', '/');
            string target = Path.Combine(dir, rel);
            if (File.Exists(target)) continue;
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            using var src = asm.GetManifestResourceStream(name)!;
            using var dst = File.Create(target);
            src.CopyTo(dst);
            written++;
        }
        return written;
    }
}
