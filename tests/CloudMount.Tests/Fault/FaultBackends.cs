using CloudMount.Tests.Fuse;
using CloudMount.Tests.Support;

namespace CloudMount.Tests.Fault;

/// <summary>One real server behind our fault proxy: how to mount it through the proxy, and another client that reaches it directly.</summary>
/// <param name="Url">The store URL to mount.</param>
/// <param name="Args">Extra mount arguments (the proxy's endpoint where the backend takes one).</param>
/// <param name="Env">Environment (credentials, auth URLs through the proxy).</param>
/// <param name="Beside">A client that reaches the server without the proxy, or null (the web server: files in <see cref="Root"/>).</param>
/// <param name="Root">For the web server: the folder it serves, where the test puts files.</param>
public sealed record ProxiedBackend(string Url, string[] Args, Dictionary<string, string?> Env, IBesideClient? Beside, string? Root)
{
    /// <summary>Names of the backends the fault tests run on.</summary>
    public static readonly string[] Names = ["s3rver", "swift-s3", "swift", "azurite", "nginx", "gcs-emulator", "gcs-ours"];

    /// <summary>The server of <paramref name="name"/>, a fresh bucket on it, and a proxy in front of it.</summary>
    public static async Task<(ProxiedBackend Backend, FaultProxy Proxy)> StartAsync(string name, int seed)
    {
        switch (name)
        {
            case "s3rver" or "swift-s3":
            {
                var server = name == "s3rver" ? await TestServers.S3rver : await TestServers.Swift;
                string bucket = await server.NewBucketAsync("fault");
                var proxy = await FaultProxy.StartAsync(server.Endpoint, seed);
                return (new ProxiedBackend($"s3://{bucket}", ["--endpoint", proxy.Endpoint.ToString()], server.Env, new S3BesideClient(server, bucket), null), proxy);
            }
            case "swift":
            {
                var server = await TestServers.Swift;
                string container = await server.NewBucketAsync("faultswift");
                var proxy = await FaultProxy.StartAsync(server.Endpoint, seed);
                // tempauth builds the storage URL from the Host of the auth request: the proxy's.
                var env = server.SwiftEnv;
                env["ST_AUTH"] = new Uri(proxy.Endpoint, "/auth/v1.0").ToString();
                return (new ProxiedBackend($"swift://{container}", [], env, new S3BesideClient(server, container), null), proxy);
            }
            case "azurite":
            {
                var server = await TestServers.Azurite;
                string container = await server.NewContainerAsync("fault");
                var proxy = await FaultProxy.StartAsync(server.Endpoint, seed);
                return (new ProxiedBackend($"az://{container}", ["--endpoint", proxy.Via(server.Endpoint).ToString()], server.Env, new AzureBesideClient(server, container), null), proxy);
            }
            case "nginx":
            {
                var server = await TestServers.Nginx;
                string folder = "fault" + Guid.NewGuid().ToString("n")[..8];
                Directory.CreateDirectory(Path.Combine(server.Root, folder));
                var proxy = await FaultProxy.StartAsync(server.Endpoint, seed);
                return (new ProxiedBackend(proxy.Via(server.Url("html", folder)).ToString(), [], [], null, Path.Combine(server.Root, folder)), proxy);
            }
            case "gcs-emulator" or "gcs-ours":
            {
                var server = await TestServers.GcsServer(name == "gcs-emulator" ? "emulator" : "ours");
                string bucket = server.NewBucket("fault");
                var proxy = await FaultProxy.StartAsync(server.Endpoint, seed);
                return (new ProxiedBackend($"gs://{bucket}", [], new() { ["STORAGE_EMULATOR_HOST"] = proxy.Endpoint.Authority }, new GcsBesideClient(server, bucket), null), proxy);
            }
        }
        throw new ArgumentException($"unknown backend {name}");
    }
}
