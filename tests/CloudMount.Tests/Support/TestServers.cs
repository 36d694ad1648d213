using System.Net;
using System.Net.Sockets;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace CloudMount.Tests.Support;

/// <summary>One S3 server running on 127.0.0.1 for the tests: its endpoint, credentials and a raw SDK client.</summary>
public sealed class S3Server(string name, Uri endpoint, string accessKey, string secretKey, string stopCommand)
{
    /// <summary>"swift" or "s3rver".</summary>
    public string Name { get; } = name;
    public Uri Endpoint { get; } = endpoint;
    public string AccessKey { get; } = accessKey;
    public string SecretKey { get; } = secretKey;
    internal string StopCommand { get; } = stopCommand;

    /// <summary>Environment for a cloudmount process talking to this server.</summary>
    public Dictionary<string, string?> Env => new()
    {
        ["AWS_ACCESS_KEY_ID"] = AccessKey,
        ["AWS_SECRET_ACCESS_KEY"] = SecretKey,
        ["AWS_REGION"] = "us-east-1",
        ["HOME"] = Paths.Scratch,
    };

    /// <summary>
    /// A plain AWS SDK client: "another client" that writes beside the mount, independent of CloudMount's code.
    /// </summary>
    public AmazonS3Client NewClient() => new(new BasicAWSCredentials(AccessKey, SecretKey), new AmazonS3Config
    {
        ServiceURL = Endpoint.ToString(),
        ForcePathStyle = true,
        AuthenticationRegion = "us-east-1",
        RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
        ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
    });

    /// <summary>For Swift only: its auth v1 endpoint and tempauth user, as python-swiftclient's ST_* variables.</summary>
    public Dictionary<string, string?> SwiftEnv => new()
    {
        ["ST_AUTH"] = new Uri(Endpoint, "/auth/v1.0").ToString(),
        ["ST_USER"] = "test:tester",
        ["ST_KEY"] = "testing",
    };

    /// <summary>For Swift only: auth v1 credentials of the tempauth user.</summary>
    public CloudMount.Core.Storage.Swift.SwiftAuth SwiftAuth => new CloudMount.Core.Storage.Swift.SwiftV1Auth(new Uri(Endpoint, "/auth/v1.0"), "test:tester", "testing");

    /// <summary>Creates a fresh bucket with a unique name.</summary>
    public async Task<string> NewBucketAsync(string hint)
    {
        string bucket = $"{hint}-{Guid.NewGuid():n}"[..Math.Min(40, hint.Length + 13)].ToLowerInvariant();
        using var c = NewClient();
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                await c.PutBucketAsync(new PutBucketRequest { BucketName = bucket });
                return bucket;
            }
            catch (AmazonS3Exception e) when ((int)e.StatusCode >= 500 && attempt < 10)
            {
                // Swift answers 503 ("Please reduce your request rate") while its account server is busy.
                await Task.Delay(500 * attempt);
            }
        }
    }

    /// <summary>Writes an object with the raw SDK.</summary>
    public async Task PutAsync(string bucket, string key, byte[] data)
    {
        using var c = NewClient();
        await c.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = key, InputStream = new MemoryStream(data), UseChunkEncoding = false });
    }

    /// <summary>Writes an object with the raw SDK, with a Content-Encoding and user metadata (x-amz-meta-*).</summary>
    public async Task PutAsync(string bucket, string key, byte[] data, string? contentEncoding, IDictionary<string, string>? metadata = null)
    {
        using var c = NewClient();
        var request = new PutObjectRequest { BucketName = bucket, Key = key, InputStream = new MemoryStream(data), UseChunkEncoding = false };
        if (contentEncoding is not null) request.Headers.ContentEncoding = contentEncoding;
        foreach (var (k, v) in metadata ?? new Dictionary<string, string>()) request.Metadata.Add(k, v);
        await c.PutObjectAsync(request);
    }

    /// <summary>HEADs an object with the raw SDK: its Content-Encoding and user metadata (names without x-amz-meta-).</summary>
    public async Task<(string? ContentEncoding, Dictionary<string, string> Metadata, long Size)> HeadAsync(string bucket, string key)
    {
        using var c = NewClient();
        var r = await c.GetObjectMetadataAsync(bucket, key);
        var meta = r.Metadata.Keys.ToDictionary(k => k.StartsWith("x-amz-meta-", StringComparison.OrdinalIgnoreCase) ? k["x-amz-meta-".Length..].ToLowerInvariant() : k.ToLowerInvariant(), k => r.Metadata[k]);
        return (r.Headers.ContentEncoding, meta, r.ContentLength);
    }

    /// <summary>Reads an object with the raw SDK, or null when missing.</summary>
    public async Task<byte[]?> GetAsync(string bucket, string key)
    {
        using var c = NewClient();
        try
        {
            using var r = await c.GetObjectAsync(bucket, key);
            using var ms = new MemoryStream();
            await r.ResponseStream.CopyToAsync(ms);
            return ms.ToArray();
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    /// <summary>Every key in a bucket, with the raw SDK.</summary>
    public async Task<List<string>> KeysAsync(string bucket, string prefix = "")
    {
        using var c = NewClient();
        var keys = new List<string>();
        string? token = null;
        do
        {
            var r = await c.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, Prefix = prefix, ContinuationToken = token });
            keys.AddRange((r.S3Objects ?? []).Select(o => o.Key));
            token = r.IsTruncated == true ? r.NextContinuationToken : null;
        }
        while (token is not null);
        return keys;
    }
}

/// <summary>
/// Starts the real servers the tests need, once per run, through the project's scripts in tests/servers,
/// and stops them at the end (<see cref="GlobalSetup"/>). Nothing is started by hand.
/// </summary>
public static class TestServers
{
    private static readonly Lazy<Task<S3Server>> SwiftServer = new(() => StartSwiftAsync());
    private static readonly Lazy<Task<S3Server>> S3rverServer = new(() => StartS3rverAsync());
    private static readonly List<S3Server> Started = [];

    /// <summary>OpenStack Swift with s3api (Debian packages): the most faithful S3 here.</summary>
    public static Task<S3Server> Swift => SwiftServer.Value;

    /// <summary>s3rver (npm): light, with known bugs (see shared/TEST-SERVERS.md).</summary>
    public static Task<S3Server> S3rver => S3rverServer.Value;

    private static Task<S3Server> StartSwiftAsync() => StartAsync("swift", ports: 5, "test:tester", "testing");

    private static Task<S3Server> StartS3rverAsync() => StartAsync("s3rver", ports: 1, "S3RVER", "S3RVER");

    /// <summary>Runs tests/servers/NAME.sh start STATE PORT and waits for it.</summary>
    private static async Task<S3Server> StartAsync(string name, int ports, string accessKey, string secretKey)
    {
        int port = FreePortRange(ports);
        string state = Paths.NewDir(name);
        string script = Path.Combine(Paths.Repo, "tests", "servers", name + ".sh");
        var r = await ProcessRunner.RunAsync(script, ["start", state, port.ToString()], timeout: TimeSpan.FromMinutes(3));
        var server = new S3Server(name, new Uri($"http://127.0.0.1:{port}"), accessKey, secretKey, $"{ProcessRunner.Q(script)} stop {ProcessRunner.Q(state)}");
        lock (Started) Started.Add(server);
        if (r.ExitCode != 0) throw new InvalidOperationException($"{name} did not start: {r}");
        return server;
    }

    /// <summary>
    /// An s3rver of the test's own, which the test may stop and start again on the same port and data
    /// (offline behaviour). Stopped at the end of the run like the others.
    /// </summary>
    public static async Task<(S3Server Server, Func<Task> Stop, Func<Task> Start)> StartPrivateS3rverAsync()
    {
        int port = FreePortRange(1);
        string state = Paths.NewDir("s3rver-private");
        string script = Path.Combine(Paths.Repo, "tests", "servers", "s3rver.sh");
        string start = $"{ProcessRunner.Q(script)} start {ProcessRunner.Q(state)} {port}";
        string stop = $"{ProcessRunner.Q(script)} stop {ProcessRunner.Q(state)}";
        var server = new S3Server("s3rver", new Uri($"http://127.0.0.1:{port}"), "S3RVER", "S3RVER", stop);
        lock (Started) Started.Add(server);
        await ProcessRunner.BashOkAsync(start, timeout: TimeSpan.FromMinutes(2));
        return (server, () => ProcessRunner.BashOkAsync(stop), () => ProcessRunner.BashOkAsync(start, timeout: TimeSpan.FromMinutes(2)));
    }

    private static readonly Lazy<Task<WebServer>> NginxServer = new(() => StartNginxAsync());

    /// <summary>nginx (Debian) serving a scratch folder read-only, for the http:// backend.</summary>
    public static Task<WebServer> Nginx => NginxServer.Value;

    private static async Task<WebServer> StartNginxAsync()
    {
        int port = FreePortRange(1);
        string state = Paths.NewDir("nginx");
        string root = Paths.NewDir("www");
        string script = Path.Combine(Paths.Repo, "tests", "servers", "nginx.sh");
        var r = await ProcessRunner.RunAsync(script, ["start", state, port.ToString(), root], timeout: TimeSpan.FromMinutes(1));
        var server = new S3Server("nginx", new Uri($"http://127.0.0.1:{port}"), "", "", $"{ProcessRunner.Q(script)} stop {ProcessRunner.Q(state)}");
        lock (Started) Started.Add(server);
        if (r.ExitCode != 0) throw new InvalidOperationException($"nginx did not start: {r}");
        return new WebServer(new Uri($"http://127.0.0.1:{port}"), root);
    }

    private static readonly Lazy<Task<AzuriteServer>> AzuriteInstance = new(() => StartAzuriteAsync());

    /// <summary>Azurite (npm), Microsoft's Azure Blob emulator, for az://.</summary>
    public static Task<AzuriteServer> Azurite => AzuriteInstance.Value;

    private static async Task<AzuriteServer> StartAzuriteAsync()
    {
        int port = FreePortRange(1);
        string state = Paths.NewDir("azurite");
        string script = Path.Combine(Paths.Repo, "tests", "servers", "azurite.sh");
        var r = await ProcessRunner.RunAsync(script, ["start", state, port.ToString()], timeout: TimeSpan.FromMinutes(3));
        var server = new S3Server("azurite", new Uri($"http://127.0.0.1:{port}"), "", "", $"{ProcessRunner.Q(script)} stop {ProcessRunner.Q(state)}");
        lock (Started) Started.Add(server);
        if (r.ExitCode != 0) throw new InvalidOperationException($"azurite did not start: {r}");
        return new AzuriteServer(new Uri($"http://127.0.0.1:{port}/devstoreaccount1"));
    }

    private static readonly Lazy<GcsTestServer> GcsInstance = new(() => new GcsTestServer());

    /// <summary>Our GCS JSON API server (in this process), for gs://.</summary>
    public static GcsTestServer Gcs => GcsInstance.Value;

    private static readonly Lazy<Task<GcsEmulatorServer>> GcsEmulatorInstance = new(() => StartGcsEmulatorAsync());

    /// <summary>Google's Cloud Storage emulator (npm firebase-tools, through tests/servers/gcs-emulator.sh), for gs://.</summary>
    public static Task<GcsEmulatorServer> GcsEmulator => GcsEmulatorInstance.Value;

    /// <summary>A GCS server by kind: "emulator" (Google's) or "ours".</summary>
    public static async Task<IGcsServer> GcsServer(string kind) => kind == "emulator" ? await GcsEmulator : new OurGcsServer(Gcs);

    private static async Task<GcsEmulatorServer> StartGcsEmulatorAsync()
    {
        int port = FreePortRange(1);
        string state = Paths.NewDir("gcs-emulator");
        string script = Path.Combine(Paths.Repo, "tests", "servers", "gcs-emulator.sh");
        var r = await ProcessRunner.RunAsync(script, ["start", state, port.ToString()], timeout: TimeSpan.FromMinutes(3));
        var server = new S3Server("gcs-emulator", new Uri($"http://127.0.0.1:{port}"), "", "", $"{ProcessRunner.Q(script)} stop {ProcessRunner.Q(state)}");
        lock (Started) Started.Add(server);
        if (r.ExitCode != 0) throw new InvalidOperationException($"the GCS emulator did not start: {r}");
        return new GcsEmulatorServer(new Uri($"http://127.0.0.1:{port}"));
    }

    private static readonly List<string> ExtraStops = [];

    /// <summary>Registers a stop command run at the end of the run (proxies and other helpers the tests start).</summary>
    public static void OnStop(string command)
    {
        lock (ExtraStops) ExtraStops.Add(command);
    }

    /// <summary>Stops every server this run started.</summary>
    public static async Task StopAllAsync()
    {
        if (GcsInstance.IsValueCreated) await GcsInstance.Value.DisposeAsync();
        List<S3Server> all;
        lock (Started) all = [.. Started];
        foreach (var s in all)
        {
            await ProcessRunner.BashAsync(s.StopCommand, timeout: TimeSpan.FromSeconds(30));
        }
        List<string> extra;
        lock (ExtraStops) extra = [.. ExtraStops];
        foreach (var stop in extra)
        {
            await ProcessRunner.BashAsync(stop, timeout: TimeSpan.FromSeconds(30));
        }
    }

    /// <summary>A base port with <paramref name="count"/> consecutive free ports on 127.0.0.1.</summary>
    public static int FreePortRange(int count)
    {
        for (int attempt = 0; attempt < 200; attempt++)
        {
            int basePort = Random.Shared.Next(20000, 60000);
            if (Enumerable.Range(basePort, count).All(IsFree)) return basePort;
        }
        throw new InvalidOperationException("no free port range");
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var l = new TcpListener(IPAddress.Loopback, port);
            l.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}

/// <summary>
/// nginx serving <see cref="Root"/> at <c>/html/</c> (HTML index, exact sizes), <c>/json/</c> (JSON index) and
/// <c>/nosize/</c> (HTML index with rounded sizes), read-only. Tests put files in <see cref="Root"/> directly.
/// </summary>
public sealed record WebServer(Uri Endpoint, string Root)
{
    /// <summary>The URL of a folder of the root in one index style (html, json or nosize), ending in /.</summary>
    public Uri Url(string style, string folder = "") =>
        new(Endpoint, $"/{style}/" + string.Join('/', folder.Split('/', StringSplitOptions.RemoveEmptyEntries).Select(Uri.EscapeDataString)) + (folder.Length > 0 ? "/" : ""));
}

/// <summary>Azurite's blob endpoint, with the emulator's documented account and key.</summary>
public sealed record AzuriteServer(Uri Endpoint)
{
    /// <summary>Azurite's well-known development account.</summary>
    public const string Account = "devstoreaccount1";

    /// <summary>Azurite's well-known development key (published in its documentation).</summary>
    public const string Key = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    /// <summary>Environment for cloudmount: account and key (the endpoint goes in --endpoint).</summary>
    public Dictionary<string, string?> Env => new() { ["AZURE_STORAGE_ACCOUNT"] = Account, ["AZURE_STORAGE_KEY"] = Key, ["AZURE_STORAGE_CONNECTION_STRING"] = null };

    /// <summary>A container client of the test's own (another client beside the mount).</summary>
    public Azure.Storage.Blobs.BlobContainerClient Container(string name) =>
        new(new Uri(Endpoint.AbsoluteUri.TrimEnd('/') + "/" + name), new Azure.Storage.StorageSharedKeyCredential(Account, Key));

    /// <summary>Creates a fresh container with a unique name.</summary>
    public async Task<string> NewContainerAsync(string hint)
    {
        string name = $"{hint}-{Guid.NewGuid():n}"[..Math.Min(40, hint.Length + 13)].ToLowerInvariant();
        await Container(name).CreateAsync();
        return name;
    }
}
