using System.CommandLine;
using System.Globalization;
using CloudMount.Core;
using CloudMount.Core.Codecs;
using CloudMount.Core.Storage;
using CloudMount.Core.Writing;
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

    /// <summary>
    /// Reads a whole object, decoded (Content-Encoding gzip, br, zstd) when <paramref name="decode"/>; a missing
    /// one is reported by its full URL.
    /// </summary>
    private static async Task<ObjectReadResult> ReadObjectAsync(OpenedStore s, string key, bool decode, CancellationToken ct)
    {
        try
        {
            var store = decode ? Decoded(s) : s.Store;
            return await store.ReadAsync(key, ByteRange.All, null, ct).ConfigureAwait(false);
        }
        catch (ObjectNotFoundException e)
        {
            throw new ObjectNotFoundException(Display(s, key), e);
        }
    }

    /// <summary>The store seen through the codec decorator: decoded reads, and writes encoded as <see cref="ObjectWriteOptions.EncodeAs"/> says.</summary>
    private static CodecObjectStore Decoded(OpenedStore s) => new(s.Store, null, new CompressionOptions(), Path.GetTempPath());

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
        var raw = new Option<bool>("--raw") { Description = "Print stored bytes: do not decode gzip, br or zstd Content-Encoding" };
        return Build("cat", "Write objects to stdout (decoded)", c => { c.Arguments.Add(urls); c.Options.Add(raw); }, async (parse, logs, common, ct) =>
        {
            await using var stdout = Console.OpenStandardOutput();
            foreach (string u in parse.GetValue(urls)!)
            {
                await using var s = await Open(u, parse, common, logs, ct).ConfigureAwait(false);
                await using var r = await ReadObjectAsync(s, s.Path, !parse.GetValue(raw), ct).ConfigureAwait(false);
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
            if (ContentCodec.Parse(info.ContentEncoding) != Codec.Identity)
            {
                Console.WriteLine($"decoded size: {(info.Metadata?.TryGetValue(ContentCodec.DecodedLengthMetadata, out var d) == true ? d : "unknown (no " + ContentCodec.DecodedLengthMetadata + " metadata)")}");
            }
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
        var raw = new Option<bool>("--raw") { Description = "Download stored bytes: do not decode gzip, br or zstd" };
        var reencode = new Option<bool>("--reencode") { Description = "Store-to-store: give the copies the --compress encoding (none without it); objects already so encoded are copied as stored" };
        var compression = new CompressionOptionSet();
        return Build("cp", "Copy between stores and local files: downloads decode, uploads encode with --compress, store-to-store copies keep stored bytes (server-side within one store)",
            c => { c.Arguments.Add(source); c.Arguments.Add(destination); c.Options.Add(recursive); c.Options.Add(raw); c.Options.Add(reencode); compression.AddTo(c); },
            async (parse, logs, common, ct) =>
        {
            string src = parse.GetValue(source)!, dst = parse.GetValue(destination)!;
            bool srcUrl = src.Contains("://", StringComparison.Ordinal), dstUrl = dst.Contains("://", StringComparison.Ordinal);
            var copy = new Copier(compression.Parse(parse), !parse.GetValue(raw), parse.GetValue(reencode) || parse.GetValue(compression.Compress) is not null && srcUrl && dstUrl);
            OpenedStore? from = srcUrl ? await Open(src, parse, common, logs, ct).ConfigureAwait(false) : null;
            OpenedStore? to = dstUrl ? await Open(dst, parse, common, logs, ct).ConfigureAwait(false) : null;
            try
            {
                if (parse.GetValue(recursive))
                {
                    await copy.TreeAsync(src, dst, from, to, ct).ConfigureAwait(false);
                }
                else
                {
                    await copy.OneAsync(src, dst, from, to, ct).ConfigureAwait(false);
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

    private static bool SameBucket(OpenedStore a, OpenedStore b) =>
        a.Url.Scheme == b.Url.Scheme && a.Url.Bucket == b.Url.Bucket && a.Url.Scheme != "file" || ReferenceEquals(a.Backend, b.Backend);

    private static string DestinationKey(OpenedStore to, string dst, string name)
    {
        string key = to.Path.Length == 0 || to.Path.EndsWith('/') || dst.EndsWith('/') ? to.Path.TrimEnd('/') + (to.Path.Length == 0 ? "" : "/") + name : to.Path;
        return key.StartsWith('/') ? key[1..] : key;
    }

    /// <summary>The copy rules of <c>cp</c>; see the command's description.</summary>
    private sealed class Copier(CompressionOptions compression, bool decode, bool reencode)
    {
        public async Task OneAsync(string src, string dst, OpenedStore? from, OpenedStore? to, CancellationToken ct)
        {
            string name = from is not null ? BaseName(from.Path) : src == "-" ? "stdin" : Path.GetFileName(src);
            if (to is not null)
            {
                string key = DestinationKey(to, dst, name);
                if (from is not null)
                {
                    await StoreToStoreAsync(from, from.Path, to, key, ct).ConfigureAwait(false);
                }
                else
                {
                    await UploadAsync(src, to, key, ct).ConfigureAwait(false);
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
                await using var r = await ReadObjectAsync(from, from.Path, decode, ct).ConfigureAwait(false);
                await r.Content.CopyToAsync(stdout, 1 << 20, ct).ConfigureAwait(false);
                return;
            }
            string target = Directory.Exists(dst) || dst.EndsWith('/') ? Path.Combine(dst, name) : dst;
            await DownloadAsync(from, from.Path, target, decode, ct).ConfigureAwait(false);
        }

        public async Task TreeAsync(string src, string dst, OpenedStore? from, OpenedStore? to, CancellationToken ct)
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
                        await StoreToStoreAsync(from, o.Key, to, key, ct).ConfigureAwait(false);
                        Console.Error.WriteLine($"copied to {Display(to, key)}");
                    }
                    else
                    {
                        string target = Path.Combine(dst, rel);
                        await DownloadAsync(from, o.Key, target, decode, ct).ConfigureAwait(false);
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
                string key = (to.Path.Length == 0 ? "" : to.Path.TrimEnd('/') + "/") + Path.GetRelativePath(root, file).Replace('\\', '/');
                await UploadAsync(file, to, key, ct).ConfigureAwait(false);
                Console.Error.WriteLine($"copied to {Display(to, key)}");
            }
        }

        /// <summary>Uploads a local file (or stdin), encoded as <c>--compress</c> says.</summary>
        private async Task UploadAsync(string src, OpenedStore to, string key, CancellationToken ct)
        {
            if (src != "-")
            {
                if (!File.Exists(src)) throw new UsageException($"{src}: no such file");
                await WriteAsync(to, key, ObjectContent.FromFile(src), compression.For(key), null, ct).ConfigureAwait(false);
                return;
            }
            // stdin: spool to a temporary file so the upload can be retried and split into parts.
            string tmp = Path.GetTempFileName();
            try
            {
                await using (var file = File.Create(tmp))
                await using (var stdin = Console.OpenStandardInput())
                {
                    await stdin.CopyToAsync(file, 1 << 20, ct).ConfigureAwait(false);
                }
                await WriteAsync(to, key, ObjectContent.FromFile(tmp), compression.For(key), null, ct).ConfigureAwait(false);
            }
            finally
            {
                File.Delete(tmp);
            }
        }

        /// <summary>Writes plain content encoded with <paramref name="codec"/>, keeping <paramref name="metadata"/>.</summary>
        private async Task WriteAsync(OpenedStore to, string key, ObjectContent content, Codec codec, IReadOnlyDictionary<string, string>? metadata, CancellationToken ct)
        {
            var store = new CodecObjectStore(to.Store, null, compression, Path.GetTempPath());
            var options = new ObjectWriteOptions { ContentType = ContentTypes.ForName(key), Metadata = metadata, EncodeAs = codec };
            await ObjectWriter.WriteAsync(store, key, content, options, new UploadOptions(), ct).ConfigureAwait(false);
        }

        /// <summary>
        /// Store to store: the stored bytes with their encoding and metadata (server-side within one bucket),
        /// unless <c>--reencode</c> asks for another encoding, when the object is decoded and encoded again.
        /// </summary>
        private async Task StoreToStoreAsync(OpenedStore from, string srcKey, OpenedStore to, string key, CancellationToken ct)
        {
            var info = await from.Store.HeadAsync(srcKey, ct).ConfigureAwait(false) ?? throw new ObjectNotFoundException(Display(from, srcKey));
            var current = ContentCodec.Parse(info.ContentEncoding);
            if (!reencode || current == compression.Codec)
            {
                if (SameBucket(from, to))
                {
                    await to.Store.CopyAsync(srcKey, key, ct).ConfigureAwait(false);
                    return;
                }
                await ThroughTempAsync(from, srcKey, decodeOnRead: false, async tmp =>
                    await ObjectWriter.WriteAsync(to.Store, key, ObjectContent.FromFile(tmp),
                        new ObjectWriteOptions { ContentType = info.ContentType, ContentEncoding = info.ContentEncoding, Metadata = info.Metadata }, new UploadOptions(), ct).ConfigureAwait(false), ct).ConfigureAwait(false);
                return;
            }
            var metadata = info.Metadata?.Where(kv => kv.Key != ContentCodec.DecodedLengthMetadata).ToDictionary(kv => kv.Key, kv => kv.Value);
            await ThroughTempAsync(from, srcKey, decodeOnRead: true, async tmp =>
                await WriteAsync(to, key, ObjectContent.FromFile(tmp), compression.Codec, metadata, ct).ConfigureAwait(false), ct).ConfigureAwait(false);
        }

        private static async Task ThroughTempAsync(OpenedStore from, string key, bool decodeOnRead, Func<string, Task> use, CancellationToken ct)
        {
            string tmp = Path.GetTempFileName();
            try
            {
                await DownloadAsync(from, key, tmp, decodeOnRead, ct).ConfigureAwait(false);
                await use(tmp).ConfigureAwait(false);
            }
            finally
            {
                File.Delete(tmp);
            }
        }
    }

    private static async Task DownloadAsync(OpenedStore from, string key, string target, bool decode, CancellationToken ct)
    {
        string dir = Path.GetDirectoryName(Path.GetFullPath(target))!;
        Directory.CreateDirectory(dir);
        string tmp = Path.Combine(dir, $".{Path.GetFileName(target)}.cloudmount-{Guid.NewGuid():n}");
        try
        {
            await using (var file = File.Create(tmp))
            await using (var r = await ReadObjectAsync(from, key, decode, ct).ConfigureAwait(false))
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
}
