using System.CommandLine;
using System.Globalization;
using CloudMount.Core;
using CloudMount.Core.Caching;
using CloudMount.Core.Writing;

namespace CloudMount.Cli.Commands;

/// <summary>
/// <c>cloudmount cache size|list|prune</c>: looks after the persistent disk cache and shows staged files still
/// waiting for upload. Pending uploads are data not yet stored anywhere else, so prune never deletes them.
/// </summary>
internal static class CacheCommand
{
    public static Command Create()
    {
        var cacheDir = new Option<string?>("--cache-dir") { Description = "The cache folder (default: $XDG_CACHE_HOME/cloudmount or ~/.cache/cloudmount)" };
        var size = new Command("size", "Show how much the disk cache holds and how much waits for upload");
        size.Options.Add(cacheDir);
        size.SetAction(parse => Run(() => Size(Dir(parse, cacheDir))));
        var list = new Command("list", "List cached object versions and pending uploads, most recently used first");
        list.Options.Add(cacheDir);
        list.SetAction(parse => Run(() => List(Dir(parse, cacheDir))));
        var olderThan = new Option<string?>("--older-than") { Description = "Remove versions not used for this long: 30m, 12h, 7d" };
        var all = new Option<bool>("--all") { Description = "Remove every cached version (pending uploads are kept)" };
        var prune = new Command("prune", "Remove cached data (never pending uploads); needs no mount running on the folder");
        prune.Options.Add(cacheDir);
        prune.Options.Add(olderThan);
        prune.Options.Add(all);
        prune.SetAction(parse => Run(() => Prune(Dir(parse, cacheDir), parse.GetValue(olderThan), parse.GetValue(all))));
        return new Command("cache", "Manage the persistent disk cache") { size, list, prune };
    }

    private static string Dir(ParseResult parse, Option<string?> option) => parse.GetValue(option) ?? CacheDirectory.Default();

    private static int Run(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (ConsoleOutput.IsExpected(e))
        {
            return ConsoleOutput.ReportError(e);
        }
    }

    private static int Size(string dir)
    {
        var entries = DiskCache.Inspect(dir);
        var pending = WriteBackRecovery.Find(Path.Combine(dir, "staging"));
        Console.WriteLine($"{Bytes.Format(entries.Sum(e => e.CachedBytes))} cached in {entries.Count} object versions in {dir}");
        Console.WriteLine($"{Bytes.Format(pending.Sum(p => p.Bytes))} in {pending.Count} files waiting for upload");
        return 0;
    }

    private static int List(string dir)
    {
        foreach (var e in DiskCache.Inspect(dir))
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{e.LastAccess.UtcDateTime:yyyy-MM-dd HH:mm:ss}  {Bytes.Format(e.CachedBytes),10} of {Bytes.Format(e.Version.Size),-10}  {e.Version.Store}/{e.Version.Key}  {e.Version.ETag}"));
        }
        foreach (var p in WriteBackRecovery.Find(Path.Combine(dir, "staging")))
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"pending upload  {Bytes.Format(p.Bytes),10}  {p.Sidecar.Store}/{p.Sidecar.Key}  since {p.Sidecar.Time.UtcDateTime:yyyy-MM-dd HH:mm:ss}{(p.Live ? " (its mount is running)" : "")}: {p.Sidecar.Reason}  [{p.DataPath}]"));
        }
        return 0;
    }

    private static int Prune(string dir, string? olderThan, bool all)
    {
        if (olderThan is null && !all)
        {
            throw new UsageException("prune needs --older-than DURATION or --all");
        }
        TimeSpan? age = olderThan is null ? null : ParseDuration(olderThan);
        using var disk = DiskCache.Open(dir, long.MaxValue) ?? throw new UsageException($"the cache in {dir} is in use by a running mount; unmount it first");
        long before = disk.UsedBytes;
        int removed = disk.Prune(age, all);
        Console.WriteLine($"removed {removed} object versions, {Bytes.Format(before - disk.UsedBytes)}; {Bytes.Format(disk.UsedBytes)} left");
        return 0;
    }

    /// <summary>Parses <c>90s</c>, <c>30m</c>, <c>12h</c>, <c>7d</c>.</summary>
    /// <exception cref="UsageException">Not a duration.</exception>
    internal static TimeSpan ParseDuration(string text)
    {
        string t = text.Trim();
        if (t.Length >= 2 && double.TryParse(t[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out double n) && n >= 0)
        {
            switch (char.ToLowerInvariant(t[^1]))
            {
                case 's': return TimeSpan.FromSeconds(n);
                case 'm': return TimeSpan.FromMinutes(n);
                case 'h': return TimeSpan.FromHours(n);
                case 'd': return TimeSpan.FromDays(n);
            }
        }
        throw new UsageException($"'{text}' is not a duration such as 30m, 12h or 7d");
    }
}
