using CloudMount.Tests.Support;

namespace CloudMount.Tests.Fuse;

[TestFixture]
public sealed class MemoryMount : MountConformance
{
    protected override Task<(string, string[], Dictionary<string, string?>)> PrepareAsync() =>
        Task.FromResult(("mem://fuse", Array.Empty<string>(), new Dictionary<string, string?>()));
}

[TestFixture]
public sealed class LocalFsMount : SharedBucketConformance
{
    protected override Task<(string, string[], Dictionary<string, string?>)> PrepareAsync()
    {
        string root = Paths.NewDir("bucket");
        Beside = new LocalBesideClient(root);
        return Task.FromResult(("file://" + root, Array.Empty<string>(), new Dictionary<string, string?>()));
    }
}

[TestFixture]
public sealed class SwiftS3Mount : SharedBucketConformance
{
    protected override async Task<(string, string[], Dictionary<string, string?>)> PrepareAsync()
    {
        var server = await TestServers.Swift;
        string bucket = await server.NewBucketAsync("mount");
        Beside = new S3BesideClient(server, bucket);
        return ($"s3://{bucket}", ["--endpoint", server.Endpoint.ToString()], server.Env);
    }
}

[TestFixture]
public sealed class S3rverMount : SharedBucketConformance
{
    protected override bool ListsFoldersHoldingOnlyFolders => false;

    protected override async Task<(string, string[], Dictionary<string, string?>)> PrepareAsync()
    {
        var server = await TestServers.S3rver;
        string bucket = await server.NewBucketAsync("mount");
        Beside = new S3BesideClient(server, bucket);
        return ($"s3://{bucket}", ["--endpoint", server.Endpoint.ToString()], server.Env);
    }
}

/// <summary>swift:// (Swift's own API, auth v1 from ST_AUTH/ST_USER/ST_KEY), with another client on its S3 API.</summary>
[TestFixture]
public sealed class SwiftNativeMount : SharedBucketConformance
{
    protected override async Task<(string, string[], Dictionary<string, string?>)> PrepareAsync()
    {
        var server = await TestServers.Swift;
        string container = await server.NewBucketAsync("swiftmount");
        Beside = new S3BesideClient(server, container);
        return ($"swift://{container}", [], server.SwiftEnv);
    }
}

/// <summary>az:// on Azurite, with another client on the Azure SDK.</summary>
[TestFixture]
public sealed class AzuriteMount : SharedBucketConformance
{
    protected override async Task<(string, string[], Dictionary<string, string?>)> PrepareAsync()
    {
        var server = await TestServers.Azurite;
        string container = await server.NewContainerAsync("mount");
        Beside = new AzureBesideClient(server, container);
        return ($"az://{container}", ["--endpoint", server.Endpoint.ToString()], server.Env);
    }
}

/// <summary>
/// gs:// on Google's Cloud Storage emulator (firebase-tools) and on our GCS JSON API test server, reached through
/// STORAGE_EMULATOR_HOST as Google's libraries do.
/// </summary>
[TestFixture("emulator")]
[TestFixture("ours")]
public sealed class GcsMount(string kind) : SharedBucketConformance
{
    protected override async Task<(string, string[], Dictionary<string, string?>)> PrepareAsync()
    {
        var server = await TestServers.GcsServer(kind);
        string bucket = server.NewBucket("mount");
        Beside = new GcsBesideClient(server, bucket);
        return ($"gs://{bucket}", Array.Empty<string>(), new Dictionary<string, string?> { ["STORAGE_EMULATOR_HOST"] = server.Endpoint.Authority });
    }
}
