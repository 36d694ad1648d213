using System.CommandLine;
using System.Globalization;
using CloudMount.Core;
using CloudMount.Core.Storage;
using Microsoft.Extensions.Logging;

namespace CloudMount.Cli.Commands;

/// <summary>
/// <c>ls</c>, <c>cat</c>, <c>cp</c>, <c>rm</c> and <c>stat</c> on store URLs, over the same object layer as the
/// mount (retries, checksums). Local paths are plain paths; <c>-</c> is stdin or stdout.
/// </summary>
internal static class ObjectCommands
{
    private delegate Task<int> Body(ParseResult parse, ILoggerFactory logs, CommonOptions common, CancellationToken ct);

    private static Command Build(string name, string description, Action<Command> addArguments, Body body)
    {
        var common = new CommonOptions();
        var command = new Command(name, description);
        addArguments(command);
        common.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            using var logs = ConsoleOutput.CreateLogs(parse.GetValue(common.Verbose));
            try
            {
                return await body(parse, logs, common, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (ConsoleOutput.IsExpected(e))
            {
                logs.Dispose();
                return ConsoleOutput.ReportError(e);
            }
        });
        return command;
    }

    private static Task<OpenedStore> Open(string url, ParseResult parse, CommonOptions common, ILoggerFactory logs, CancellationToken ct) =>
        StoreFactory.OpenAsync(url, common.ToConnectOptions(parse, logs), ct);

    private static string Display(OpenedStore s, string key) =>
        s.Url.Scheme == "file" ? Path.Combine(((Core.Storage.LocalFs.LocalFsObjectStore)s.Backend).Name["file://".Length..], key) : $"{s.Url.Scheme}://{s.Url.Bucket}/{key}";

    /// <summary>Reads a whole object; a missing one is reported by its full URL.</summary>
    private static async Task<ObjectReadResult> ReadObjectAsync(OpenedStore s, string key, CancellationToken ct)
    {
        try
        {
            return await s.Store.ReadAsync(key, ByteRange.All, null, ct).ConfigureAwait(false);
        }
        catch (ObjectNotFoundException e)
        {
            throw new ObjectNotFoundException(Display(s, key), e);
        }
    }

    // ------------------------------------------------------------------ ls

    public static Command CreateLs()
    {
        var url = new Argument<string>("url") { Description = "s3://bucket/prefix, file:///dir, mem://name/prefix" };
        var recursive = new Option<bool>("--recursive", "-r") { Description = "List every key under the prefix" };
        return Build("ls", "List objects and prefixes, like `aws s3 ls`", c => { c.Arguments.Add(url); c.Options.Add(recursive); }, async (parse, logs, common, ct) =>
        {
            await using var s = await Open(parse.GetValue(url)!, parse, common, logs, ct).ConfigureAwait(false);
            string prefix = s.Path.Length == 0 || s.Path.EndsWith('/') ? s.Path : s.Path;
            bool rec = parse.GetValue(recursive);
            var stdout = Console.Out;
            string? token = null;
            do
            {
                var page = await s.Store.ListAsync(new ListRequest(prefix, rec ? null : "/", token), ct).ConfigureAwait(false);
                // Print in key order, prefixes interleaved as the service orders them.
                var rows = page.CommonPrefixes.Select(p => (Key: p, Line: $"{"PRE",30} {p[LastSegmentStart(prefix, p)..]}"))
                    .Concat(page.Objects.Select(o => (o.Key, Line: string.Create(CultureInfo.InvariantCulture,
                        $"{o.LastModified.UtcDateTime:yyyy-MM-dd HH:mm:ss} {o.Size,10} {(rec ? o.Key : o.Key[LastSegmentStart(prefix, o.Key)..])}"))))
                    .OrderBy(r => r.Key, KeyComparer.Instance);
                foreach (var (_, line) in rows)
                {
                    await stdout.WriteLineAsync(line).ConfigureAwait(false);
                }
                token = page.NextPageToken;
            }
            while (token is not null);
            return 0;
        });
    }

    private static int LastSegmentStart(string prefix, string key)
    {
        int slash = prefix.LastIndexOf('/');
        return slash + 1;
    }

    // ------------------------------------------------------------------ cat

    public static Command CreateCat()
    {
        var urls = new Argument<string[]>("url") { Description = "Objects to print", Arity = ArgumentArity.OneOrMore };
        return Build("cat", "Write objects to stdout", c => c.Arguments.Add(urls), async (parse, logs, common, ct) =>
        {
            await using var stdout = Console.OpenStandardOutput();
            foreach (string u in parse.GetValue(urls)!)
            {
                await using var s = await Open(u, parse, common, logs, ct).ConfigureAwait(false);
                await using var r = await ReadObjectAsync(s, s.Path, ct).ConfigureAwait(false);
                await r.Content.CopyToAsync(stdout, 1 << 20, ct).ConfigureAwait(false);
            }
            return 0;
        });
    }

    // ------------------------------------------------------------------ stat

    public static Command CreateStat()
    {
        var url = new Argument<string>("url") { Description = "The object" };
        return Build("stat", "Show an object's metadata", c => c.Arguments.Add(url), async (parse, logs, common, ct) =>
        {
            await using var s = await Open(parse.GetValue(url)!, parse, common, logs, ct).ConfigureAwait(false);
            var info = await s.Store.HeadAsync(s.Path, ct).ConfigureAwait(false) ?? throw new ObjectNotFoundException(Display(s, s.Path));
            Console.WriteLine($"key: {info.Key}");
            Console.WriteLine($"size: {info.Size.ToString(CultureInfo.InvariantCulture)}");
            Console.WriteLine($"etag: {info.ETag}");
            Console.WriteLine($"last-modified: {info.LastModified.UtcDateTime:O}");
            if (info.ContentType is { } t) Console.WriteLine($"content-type: {t}");
            if (info.ContentEncoding is { } enc) Console.WriteLine($"content-encoding: {enc}");
            foreach (var (k, v) in info.Metadata ?? new Dictionary<string, string>())
            {
                Console.WriteLine($"meta-{k}: {v}");
            }
            return 0;
        });
    }

    // ------------------------------------------------------------------ rm

    public static Command CreateRm()
    {
        var urls = new Argument<string[]>("url") { Description = "Objects (or, with -r, prefixes) to delete", Arity = ArgumentArity.OneOrMore };
        var recursive = new Option<bool>("--recursive", "-r") { Description = "Delete every key under the prefix" };
        return Build("rm", "Delete objects", c => { c.Arguments.Add(urls); c.Options.Add(recursive); }, async (parse, logs, common, ct) =>
        {
            foreach (string u in parse.GetValue(urls)!)
            {
                await using var s = await Open(u, parse, common, logs, ct).ConfigureAwait(false);
                if (parse.GetValue(recursive))
                {
                    string prefix = s.Url.Scheme == "file" ? s.Path : s.Url.PathAsPrefix;
                    await foreach (var o in ListAll(s.Store, prefix, ct).ConfigureAwait(false))
                    {
                        await s.Store.DeleteAsync(o.Key, ct).ConfigureAwait(false);
                        Console.WriteLine($"deleted {Display(s, o.Key)}");
                    }
                }
                else
                {
                    if (await s.Store.HeadAsync(s.Path, ct).ConfigureAwait(false) is null)
                    {
                        throw new ObjectNotFoundException(Display(s, s.Path));
                    }
                    await s.Store.DeleteAsync(s.Path, ct).ConfigureAwait(false);
                    Console.WriteLine($"deleted {Display(s, s.Path)}");
                }
            }
            return 0;
        });
    }

    private static async IAsyncEnumerable<ObjectInfo> ListAll(IObjectStore store, string prefix, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        string? token = null;
        do
        {
            var page = await store.ListAsync(new ListRequest(prefix, null, token), ct).ConfigureAwait(false);
            foreach (var o in page.Objects) yield return o;
            token = page.NextPageToken;
        }
        while (token is not null);
    }

    // ------------------------------------------------------------------ cp

    public static Command CreateCp()
    {
        var source = new Argument<string>("source") { Description = "A URL, a local path, or - for stdin" };
        var destination = new Argument<string>("destination") { Description = "A URL, a local path, or - for stdout; a trailing / keeps the source's name" };
        var recursive = new Option<bool>("--recursive", "-r") { Description = "Copy every key under a prefix, or every file under a local directory" };
        return Build("cp", "Copy between stores and local files (server-side within one store)", c => { c.Arguments.Add(source); c.Arguments.Add(destination); c.Options.Add(recursive); }, async (parse, logs, common, ct) =>
        {
            string src = parse.GetValue(source)!, dst = parse.GetValue(destination)!;
            bool rec = parse.GetValue(recursive);
            bool srcUrl = src.Contains("://", StringComparison.Ordinal), dstUrl = dst.Contains("://", StringComparison.Ordinal);
            OpenedStore? from = srcUrl ? await Open(src, parse, common, logs, ct).ConfigureAwait(false) : null;
            OpenedStore? to = dstUrl ? await Open(dst, parse, common, logs, ct).ConfigureAwait(false) : null;
            try
            {
                if (rec)
                {
                    await CopyTreeAsync(src, dst, from, to, ct).ConfigureAwait(false);
                }
                else
                {
                    await CopyOneAsync(src, dst, from, to, ct).ConfigureAwait(false);
                }
            }
            finally
            {
                if (from is not null) await from.DisposeAsync().ConfigureAwait(false);
                if (to is not null) await to.DisposeAsync().ConfigureAwait(false);
            }
            return 0;
        });
    }

    private static string BaseName(string pathOrKey) => pathOrKey.TrimEnd('/').Split('/')[^1];

    private static async Task CopyOneAsync(string src, string dst, OpenedStore? from, OpenedStore? to, CancellationToken ct)
    {
        string srcName = from is not null ? BaseName(from.Path) : src == "-" ? "stdin" : Path.GetFileName(src);
        if (to is not null)
        {
            string key = to.Path.Length == 0 || to.Path.EndsWith('/') || dst.EndsWith('/') ? to.Path.TrimEnd('/') + (to.Path.Length == 0 ? "" : "/") + srcName : to.Path;
            if (to.Url.Scheme != "file" && key.StartsWith('/')) key = key[1..];
            if (from is not null && ReferenceEquals(from.Backend, to.Backend) || from is not null && from.Url.Scheme == to.Url.Scheme && from.Url.Bucket == to.Url.Bucket && from.Url.Scheme != "file")
            {
                await to.Store.CopyAsync(from.Path, key, ct).ConfigureAwait(false);
            }
            else
            {
                await UploadAsync(src, from, to, key, ct).ConfigureAwait(false);
            }
            Console.Error.WriteLine($"copied to {Display(to, key)}");
            return;
        }
        if (from is null)
        {
            throw new UsageException("cp needs a URL on at least one side (use the system cp for local copies)");
        }
        if (dst == "-")
        {
            await using var stdout = Console.OpenStandardOutput();
            await using var r = await ReadObjectAsync(from, from.Path, ct).ConfigureAwait(false);
            await r.Content.CopyToAsync(stdout, 1 << 20, ct).ConfigureAwait(false);
            return;
        }
        string target = Directory.Exists(dst) || dst.EndsWith('/') ? Path.Combine(dst, srcName) : dst;
        await DownloadAsync(from, from.Path, target, ct).ConfigureAwait(false);
    }

    private static async Task UploadAsync(string src, OpenedStore? from, OpenedStore to, string key, CancellationToken ct)
    {
        if (from is null && src != "-")
        {
            if (!File.Exists(src)) throw new UsageException($"{src}: no such file");
            await to.Store.WriteAsync(key, ObjectContent.FromFile(src), new ObjectWriteOptions { ContentType = ContentTypes.ForName(key) }, ct).ConfigureAwait(false);
            return;
        }
        // stdin or another store: spool to a temporary file so the upload can be retried and split into parts.
        string tmp = Path.GetTempFileName();
        try
        {
            await using (var file = File.Create(tmp))
            {
                if (from is null)
                {
                    await using var stdin = Console.OpenStandardInput();
                    await stdin.CopyToAsync(file, 1 << 20, ct).ConfigureAwait(false);
                }
                else
                {
                    await using var r = await ReadObjectAsync(from, from.Path, ct).ConfigureAwait(false);
                    await r.Content.CopyToAsync(file, 1 << 20, ct).ConfigureAwait(false);
                }
            }
            await to.Store.WriteAsync(key, ObjectContent.FromFile(tmp), new ObjectWriteOptions { ContentType = ContentTypes.ForName(key) }, ct).ConfigureAwait(false);
        }
        finally
        {
            File.Delete(tmp);
        }
    }

    private static async Task DownloadAsync(OpenedStore from, string key, string target, CancellationToken ct)
    {
        string dir = Path.GetDirectoryName(Path.GetFullPath(target))!;
        Directory.CreateDirectory(dir);
        string tmp = Path.Combine(dir, $".{Path.GetFileName(target)}.cloudmount-{Guid.NewGuid():n}");
        try
        {
            await using (var file = File.Create(tmp))
            await using (var r = await ReadObjectAsync(from, key, ct).ConfigureAwait(false))
            {
                await r.Content.CopyToAsync(file, 1 << 20, ct).ConfigureAwait(false);
            }
            File.Move(tmp, target, overwrite: true);
        }
        finally
        {
            File.Delete(tmp);
        }
    }

    private static async Task CopyTreeAsync(string src, string dst, OpenedStore? from, OpenedStore? to, CancellationToken ct)
    {
        if (from is not null)
        {
            string prefix = from.Url.Scheme == "file" ? (from.Path.Length == 0 ? "" : from.Path.TrimEnd('/') + "/") : from.Url.PathAsPrefix;
            await foreach (var o in ListAll(from.Store, prefix, ct).ConfigureAwait(false))
            {
                if (o.IsDirectoryMarker) continue;
                string rel = o.Key[prefix.Length..];
                if (to is not null)
                {
                    string key = (to.Path.Length == 0 ? "" : to.Path.TrimEnd('/') + "/") + rel;
                    if (from.Url.Scheme == to.Url.Scheme && from.Url.Bucket == to.Url.Bucket && from.Url.Scheme != "file")
                        await to.Store.CopyAsync(o.Key, key, ct).ConfigureAwait(false);
                    else
                        await UploadViaTempAsync(from, o.Key, to, key, ct).ConfigureAwait(false);
                    Console.Error.WriteLine($"copied to {Display(to, key)}");
                }
                else
                {
                    string target = Path.Combine(dst, rel);
                    await DownloadAsync(from, o.Key, target, ct).ConfigureAwait(false);
                    Console.Error.WriteLine($"copied to {target}");
                }
            }
            return;
        }
        if (to is null || !Directory.Exists(src))
        {
            throw new UsageException($"cp -r needs a URL prefix or an existing local directory as source ({src})");
        }
        string root = Path.GetFullPath(src);
        foreach (var file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            string rel = Path.GetRelativePath(root, file).Replace('\\', '/');
            string key = (to.Path.Length == 0 ? "" : to.Path.TrimEnd('/') + "/") + rel;
            await to.Store.WriteAsync(key, ObjectContent.FromFile(file), new ObjectWriteOptions { ContentType = ContentTypes.ForName(key) }, ct).ConfigureAwait(false);
            Console.Error.WriteLine($"copied to {Display(to, key)}");
        }
    }

    private static async Task UploadViaTempAsync(OpenedStore from, string srcKey, OpenedStore to, string key, CancellationToken ct)
    {
        string tmp = Path.GetTempFileName();
        try
        {
            await DownloadAsync(from, srcKey, tmp, ct).ConfigureAwait(false);
            await to.Store.WriteAsync(key, ObjectContent.FromFile(tmp), new ObjectWriteOptions { ContentType = ContentTypes.ForName(key) }, ct).ConfigureAwait(false);
        }
        finally
        {
            File.Delete(tmp);
        }
    }
}
