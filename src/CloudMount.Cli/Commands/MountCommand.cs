using System.CommandLine;
using System.Globalization;
using CloudMount.Core;
using CloudMount.Core.Caching;
using CloudMount.Core.Reading;
using CloudMount.Core.Storage;
using CloudMount.Core.Vfs;
using CloudMount.Core.Writing;
using CloudMount.Cli.Service;
using CloudMount.Linux;
using Microsoft.Extensions.Logging;

namespace CloudMount.Cli.Commands;

/// <summary>
/// <c>cloudmount mount URL MOUNTPOINT</c>: mounts in the foreground until Ctrl-C, SIGTERM or
/// <c>fusermount3 -u</c>, then unmounts and logs one line of request counts.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
[System.Runtime.Versioning.SupportedOSPlatform("windows")]
internal static class MountCommand
{
    public static Command Create()
    {
        var url = new Argument<string>("url") { Description = "What to mount: s3://bucket[/prefix], gs://bucket[/prefix], swift://container[/prefix], az://container[/prefix], http(s)://host/dir/ (read-only), file:///dir, mem://name" };
        var mountPoint = new Argument<string>("mountpoint")
        {
            Description = OperatingSystem.IsWindows() ? "A free drive letter (X:), * for the next free one, or a folder that does not exist yet" : "An existing, empty directory",
        };
        var options = new MountOptions();
        var command = new Command("mount", "Mount a bucket (or a prefix of it) on a directory, in the foreground") { url, mountPoint };
        options.AddTo(command);
        command.SetAction((parse, ct) => RunAsync(parse.GetValue(url)!, parse.GetValue(mountPoint)!, options, parse, null, ct));
        return command;
    }

    /// <summary>The options of mount (also used by demo).</summary>
    internal sealed class MountOptions
    {
        public CommonOptions Common { get; } = new();
        public Option<bool> ReadOnly { get; } = new("--read-only", "--ro") { Description = "Refuse every change (EROFS)" };
        public Option<uint?> Uid { get; } = new("--uid") { Description = "Owner of every file (default: you)" };
        public Option<uint?> Gid { get; } = new("--gid") { Description = "Group of every file (default: your group)" };
        public Option<string> FileMode { get; } = new("--file-mode") { Description = "Permission bits of files, octal", DefaultValueFactory = _ => "0644" };
        public Option<string> DirMode { get; } = new("--dir-mode") { Description = "Permission bits of directories, octal", DefaultValueFactory = _ => "0755" };
        public Option<bool> AllowOther { get; } = new("--allow-other") { Description = "Let other users use the mount (non-root needs user_allow_other in /etc/fuse.conf)" };
        public Option<double> MetadataTtl { get; } = new("--metadata-ttl") { Description = "Seconds attributes, entries and listings are trusted", DefaultValueFactory = _ => 1.0 };
        public Option<double> NegativeTtl { get; } = new("--negative-ttl") { Description = "Seconds a missing name is trusted", DefaultValueFactory = _ => 1.0 };
        public Option<string?> CacheDir { get; } = new("--cache-dir") { Description = "Folder for staging files of writes (default: $XDG_CACHE_HOME/cloudmount or ~/.cache/cloudmount)" };
        public Option<string> CacheSize { get; } = new("--cache-size") { Description = "Largest size of the persistent disk cache (0 turns it off)", DefaultValueFactory = _ => "10GiB" };
        public Option<string> MemoryCacheSize { get; } = new("--memory-cache-size") { Description = "Largest size of the in-memory block cache (0 turns it off)", DefaultValueFactory = _ => "64MiB" };
        public Option<bool> Raw { get; } = new("--raw") { Description = "Show objects as stored: no decoding of gzip, br and zstd Content-Encoding" };
        public Option<bool> ExactAttrs { get; } = new("--exact-attrs")
        {
            Description = "HEAD each file when listed (one request per file) so stat shows decoded sizes of compressed objects, mtime/mode/uid/gid kept by s3fs or rclone, and symlinks before a file is opened",
        };
        public Option<bool> PosixAttrs { get; } = new("--posix-attrs")
        {
            Description = "Accepted for older command lines: POSIX attributes are stored by default (see --no-posix-attrs)",
            Hidden = true,
        };
        public Option<bool> NoPosixAttrs { get; } = new("--no-posix-attrs")
        {
            Description = "Store no mode, owner or times in object metadata (chmod, chown and touch then last for the session only)",
        };
        public CompressionOptionSet Compression { get; } = new();
        public Option<string?> MetricsAddr { get; } = new("--metrics-addr") { Description = "Serve Prometheus metrics at http://ADDR/metrics; PORT alone listens on 127.0.0.1" };
        public Option<bool> NoXattrs { get; } = new("--no-xattrs") { Description = "Serve no extended attributes (object metadata): small writes then skip the kernel's per-write security.capability request" };
        public Option<string> ReadAhead { get; } = new("--read-ahead") { Description = "Largest read-ahead window per open file (the process's read-ahead buffers are bounded by the larger of this and 48MiB)", DefaultValueFactory = _ => "48MiB" };
        public Option<string> PartSize { get; } = new("--read-part-size") { Description = "Size of one range request of read-ahead", DefaultValueFactory = _ => "8MiB" };
        public Option<bool> Daemon { get; } = new("--daemon") { Description = "Mount in the background: return once the mount is ready (exit 0), or with its error; logs go to --log-file (default /var/log/cloudmount/DIR.log for root, ~/.local/state/cloudmount/DIR.log otherwise)" };
        public Option<string?> LogFile { get; } = new("--log-file") { Description = "Append log lines to this file instead of stderr (errors that stop the mount still go to stderr too)" };

        public void AddTo(Command c)
        {
            Common.AddTo(c);
            foreach (Option o in new Option[] { ReadOnly, Raw, ExactAttrs, PosixAttrs, NoPosixAttrs, NoXattrs, Uid, Gid, FileMode, DirMode, AllowOther, MetadataTtl, NegativeTtl, CacheDir, CacheSize, MemoryCacheSize, MetricsAddr, ReadAhead, PartSize, Daemon, LogFile })
            {
                c.Options.Add(o);
            }
            Compression.AddTo(c);
        }
    }

    private static uint ParseMode(string text, string option)
    {
        try
        {
            uint mode = Convert.ToUInt32(text, 8);
            return mode <= 0xFFF ? mode : throw new FormatException();
        }
        catch (Exception e) when (e is FormatException or OverflowException or ArgumentException)
        {
            throw new UsageException($"{option} '{text}' is not an octal mode such as 0644");
        }
    }

    private static long ParseSize(string text, string option, bool allowZero = false)
    {
        try
        {
            long v = Bytes.Parse(text);
            return v > 0 || (allowZero && v == 0) ? v : throw new FormatException();
        }
        catch (Exception e) when (e is FormatException or OverflowException)
        {
            throw new UsageException($"{option} '{text}' is not a size such as 8MiB");
        }
    }

    /// <summary>Mounts and waits. <paramref name="banner"/> is printed once the mount is ready (used by demo).</summary>
    internal static async Task<int> RunAsync(string url, string mountPoint, MountOptions o, ParseResult parse, Func<string, string>? banner, CancellationToken ct)
    {
        if (parse.GetValue(o.Daemon))
        {
            if (!OperatingSystem.IsLinux()) throw new UsageException("--daemon is for Linux; on Windows run the mount as a service");
            // The same command line again, in the background; this process waits for its READY=1.
            var args = Program.Arguments.Where(a => a != "--daemon").ToList();
            string logFile = parse.GetValue(o.LogFile) ?? Service.LogFile.DefaultPath(mountPoint);
            if (parse.GetValue(o.LogFile) is not null) args = WithoutOption(args, "--log-file");
            return await Service.Daemon.LaunchAsync(args, logFile, null, "cloudmount", quiet: false, ct).ConfigureAwait(false);
        }
        ILoggerFactory logs;
        try
        {
            logs = ConsoleOutput.CreateLogs(parse.GetValue(o.Common.Verbose), parse.GetValue(o.LogFile));
        }
        catch (UsageException e)
        {
            ServiceNotify.Failed(ConsoleOutput.ErrorLine(e));
            return ConsoleOutput.ReportError(e);
        }
        using var disposeLogs = logs;
        var log = logs.CreateLogger("cloudmount");
        try
        {
            // Cheap local checks first, so a wrong mount point costs no request.
            string mp = OperatingSystem.IsWindows() ? WindowsMountCommand.CheckMountPoint(mountPoint) : MountPreflight.Check(mountPoint);
            var connect = o.Common.ToConnectOptions(parse, logs);
            uint fileMode = ParseMode(parse.GetValue(o.FileMode)!, "--file-mode");
            uint dirMode = ParseMode(parse.GetValue(o.DirMode)!, "--dir-mode");
            long readAhead = ParseSize(parse.GetValue(o.ReadAhead)!, "--read-ahead");
            long partSize = ParseSize(parse.GetValue(o.PartSize)!, "--read-part-size");
            long cacheSize = ParseSize(parse.GetValue(o.CacheSize)!, "--cache-size", allowZero: true);
            long memoryCacheSize = ParseSize(parse.GetValue(o.MemoryCacheSize)!, "--memory-cache-size", allowZero: true);
            double ttl = parse.GetValue(o.MetadataTtl), negTtl = parse.GetValue(o.NegativeTtl);
            if (ttl < 0 || negTtl < 0) throw new UsageException("TTLs must be zero or more seconds");
            Uri? metricsAddr = parse.GetValue(o.MetricsAddr) is { } addr ? MetricsExporter.ParseAddress(addr) : null;

            await using var opened = await StoreFactory.OpenAsync(url, connect, ct).ConfigureAwait(false);
            await StoreProbe.CheckAsync(opened, TimeSpan.FromSeconds(20), ct).ConfigureAwait(false);

            string cacheDir = parse.GetValue(o.CacheDir) ?? CacheDirectory.Default();
            using var disk = cacheSize > 0 ? DiskCache.Open(cacheDir, cacheSize, logs.CreateLogger("cache")) : null;
            using var memory = memoryCacheSize > 0 ? new MemoryBlockCache(memoryCacheSize) : null;
            await using var caches = new ReadCaches(memory, disk) { Heads = disk is null ? null : HeadJournal.Open(cacheDir, opened.Store.Name) };
            bool raw = parse.GetValue(o.Raw);
            var compression = o.Compression.Parse(parse);
            if (raw && compression.Codec != Core.Codecs.Codec.Identity) throw new UsageException("--compress cannot be combined with --raw");
            var readAheadOptions = new ReadAheadOptions { MaxWindowBytes = readAhead, PartBytes = Math.Min(partSize, readAhead) };
            // One file's whole window fits in the read-ahead buffers.
            BufferPool.Shared.BudgetBytes = Math.Max(BufferPool.DefaultBudgetBytes, readAhead);
            await using var decoding = raw ? null : new Core.Codecs.DecodedCopies(opened.Store, Path.Combine(cacheDir, "decoded"), Math.Max(cacheSize, Bytes.GiB),
                logs.CreateLogger("decode"), readAheadOptions);
            string staging = Path.Combine(cacheDir, "staging", $"{Environment.ProcessId}-{Guid.NewGuid():n}"[..24]);
            var vfsOptions = new VfsOptions
            {
                RootPrefix = opened.Url.Scheme == "file" ? (opened.Path.Length == 0 ? "" : opened.Path.TrimEnd('/') + "/") : opened.Url.PathAsPrefix,
                ReadOnly = parse.GetValue(o.ReadOnly) || !opened.Backend.Capabilities.CanWrite,
                Uid = parse.GetValue(o.Uid) ?? (OperatingSystem.IsWindows() ? 0 : LinuxUser.Uid),
                Gid = parse.GetValue(o.Gid) ?? (OperatingSystem.IsWindows() ? 0 : LinuxUser.Gid),
                FileMode = fileMode,
                DirectoryMode = dirMode,
                MetadataTtl = TimeSpan.FromSeconds(ttl),
                NegativeTtl = TimeSpan.FromSeconds(negTtl),
                StagingDirectory = staging,
                ReadAhead = readAheadOptions,
                Caches = caches,
                Decoding = decoding,
                Compression = compression,
                ExactAttributes = parse.GetValue(o.ExactAttrs),
                PosixAttributes = !parse.GetValue(o.NoPosixAttrs),
            };
            await using var fs = new CloudFileSystem(opened.Store, vfsOptions, logs.CreateLogger("vfs"));
            if (OperatingSystem.IsWindows())
            {
                return await WindowsMountCommand.ServeAsync(fs, mp, new(opened, vfsOptions, caches, cacheDir, parse.GetValue(o.Uid), parse.GetValue(o.Gid), fileMode, dirMode, !parse.GetValue(o.NoXattrs), metricsAddr), logs, banner).ConfigureAwait(false);
            }
            if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("FUSE mounts are for Linux");
            // Signals are handled from before the kernel mount exists: a Ctrl-C while it is set up unmounts it too.
            using var signals = new MountSignals(log, mp);
            // The first lookup and read of the mount find their code compiled and initialised (MountWarmup): it runs
            // while the kernel sets the mount up, and the mount is announced once both are done (measured: 0.2 s
            // more to start, 0.12 s less to the first byte).
            var warmup = Task.WhenAll(Task.Run(() => MountWarmup.RunAsync(readAheadOptions, ct)),
                opened.Backend is Core.Storage.S3.S3ObjectStore ? Task.Run(() => Core.Storage.S3.S3Warmup.RunAsync(ct)) : Task.CompletedTask);
            await using var mount = await FuseMount.MountAsync(fs, new FuseMountOptions
            {
                MountPoint = mp,
                FsName = opened.Url.ToString().TrimEnd('/'),
                AllowOther = parse.GetValue(o.AllowOther),
                ReadOnly = vfsOptions.ReadOnly,
                ExtendedAttributes = !parse.GetValue(o.NoXattrs),
            }, logs.CreateLogger("fuse")).ConfigureAwait(false);
            signals.Attach(mount);

            await warmup.ConfigureAwait(false);
            // Metrics are served from here, after the warm-up (its cache hits are no one's) and before the mount is
            // announced, so they count its first requests.
            using var metrics = metricsAddr is null ? null : MetricsExporter.Start(metricsAddr);
            if (metricsAddr is not null) log.LogInformation("metrics at {Address}metrics", metricsAddr);
            // Files earlier mounts staged but could not upload go up now, in the background.
            var recovery = Task.Run(() => WriteBackRecovery.RunAsync(Path.Combine(cacheDir, "staging"), staging, opened.Store, vfsOptions.Upload, logs.CreateLogger("recovery"), CancellationToken.None));
            if (!signals.Stopping)
            {
                log.LogInformation("mounted {Url} on {MountPoint} (credentials: {Credentials}); Ctrl-C or `fusermount3 -u {MountPoint}` to unmount",
                    opened.Url.ToString().TrimEnd('/'), mp, opened.CredentialSource, mp);
                if (banner is not null)
                {
                    Console.Out.WriteLine(banner(mp));
                    Console.Out.Flush();
                }
                ServiceNotify.Ready($"mounted {opened.Url.ToString().TrimEnd('/')} on {mp}");
            }

            await mount.Completion.ConfigureAwait(false);
            ServiceNotify.Stopping($"unmounting {mp}");
            await mount.DisposeAsync().ConfigureAwait(false);
            await fs.DisposeAsync().ConfigureAwait(false);
            await recovery.ConfigureAwait(false);
            await caches.DisposeAsync().ConfigureAwait(false);
            log.LogInformation("unmounted {MountPoint}; {Stats}; {Cache}", mp, opened.Stats, caches);
            return 0;
        }
        catch (Exception e) when (ConsoleOutput.IsExpected(e))
        {
            ServiceNotify.Failed(ConsoleOutput.ErrorLine(e));
            // A foreground mount's log file gets the error too (a background mount's stderr is that file already).
            if (parse.GetValue(o.LogFile) is not null && !(OperatingSystem.IsLinux() && Service.Daemon.IsChild)) log.LogError("{Error}", ConsoleOutput.ErrorLine(e));
            logs.Dispose();
            return ConsoleOutput.ReportError(e);
        }
    }

    /// <summary><paramref name="args"/> without <paramref name="name"/> and its value (either <c>NAME VALUE</c> or <c>NAME=VALUE</c>).</summary>
    private static List<string> WithoutOption(List<string> args, string name)
    {
        var rest = new List<string>();
        for (int i = 0; i < args.Count; i++)
        {
            if (args[i] == name) i++;
            else if (!args[i].StartsWith(name + "=", StringComparison.Ordinal)) rest.Add(args[i]);
        }
        return rest;
    }
}
