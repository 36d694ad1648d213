using Amazon.Runtime;
using CloudMount.Core.Storage;
using CloudMount.Core.Storage.LocalFs;
using CloudMount.Core.Storage.Memory;
using CloudMount.Core.Storage.S3;
using CloudMount.Core.Storage.Swift;
using CloudMount.Core.Storage.Http;
using CloudMount.Core.Storage.Azure;
using CloudMount.Core.Storage.Gcs;
using CloudMount.Tests.Support;

namespace CloudMount.Tests.Contract;

[TestFixture]
public sealed class MemoryStoreContract : ObjectStoreContract
{
    protected override Task<IObjectStore> CreateStoreAsync() => Task.FromResult<IObjectStore>(new MemoryObjectStore("contract"));
}

[TestFixture]
public sealed class LocalFsStoreContract : ObjectStoreContract
{
    protected override Task<IObjectStore> CreateStoreAsync() => Task.FromResult<IObjectStore>(new LocalFsObjectStore(Paths.NewDir("localfs")));
}

/// <summary>S3 API against OpenStack Swift's s3api middleware (Debian packages).</summary>
[TestFixture]
public sealed class SwiftS3StoreContract : ObjectStoreContract
{
    protected override async Task<IObjectStore> CreateStoreAsync()
    {
        var server = await TestServers.Swift;
        return new S3ObjectStore(await server.NewBucketAsync("contract"), new BasicAWSCredentials(server.AccessKey, server.SecretKey),
            new S3StoreOptions { Endpoint = server.Endpoint });
    }
}

/// <summary>S3 API against s3rver (npm).</summary>
[TestFixture]
public sealed class S3rverStoreContract : ObjectStoreContract
{
    protected override bool ListsFoldersHoldingOnlyFolders => false;
    protected override bool ChecksContentMd5 => false;

    protected override async Task<IObjectStore> CreateStoreAsync()
    {
        var server = await TestServers.S3rver;
        return new S3ObjectStore(await server.NewBucketAsync("contract"), new BasicAWSCredentials(server.AccessKey, server.SecretKey),
            new S3StoreOptions { Endpoint = server.Endpoint });
    }
}

/// <summary>Swift's own API (auth v1, tempauth) on the same Debian Swift, beside its S3 API.</summary>
[TestFixture]
public sealed class SwiftNativeStoreContract : ObjectStoreContract
{
    protected override async Task<IObjectStore> CreateStoreAsync()
    {
        var server = await TestServers.Swift;
        // An S3 bucket of Swift's s3api is a Swift container of the account.
        return new SwiftObjectStore(await server.NewBucketAsync("contract"), server.SwiftAuth);
    }
}

/// <summary>
/// http:// on nginx, read-only: objects are files put in the served folder; one fixture per index style
/// (HTML with exact sizes, JSON, HTML with rounded sizes that need a HEAD).
/// </summary>
[TestFixture("html")]
[TestFixture("json")]
[TestFixture("nosize")]
public sealed class HttpNginxStoreContract(string style) : ObjectStoreContract
{
    private WebServer _server = null!;

    protected override async Task<IObjectStore> CreateStoreAsync()
    {
        _server = await TestServers.Nginx;
        return new HttpObjectStore(_server.Url(style));
    }

    protected override async Task<ObjectInfo> SeedAsync(string key, byte[] data)
    {
        string path = Path.Combine(_server.Root, key);
        if (key.EndsWith('/'))
        {
            Directory.CreateDirectory(path);
            return new ObjectInfo(key, 0, null, DateTimeOffset.UtcNow);
        }
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await File.WriteAllBytesAsync(path, data);
        return await Store.HeadAsync(key, CancellationToken.None) ?? throw new InvalidOperationException($"nginx does not serve {key}");
    }
}

/// <summary>az:// on Azurite (npm), Microsoft's Azure Blob emulator.</summary>
[TestFixture]
public sealed class AzuriteStoreContract : ObjectStoreContract
{
    protected override async Task<IObjectStore> CreateStoreAsync()
    {
        var server = await TestServers.Azurite;
        string container = await server.NewContainerAsync("contract");
        var (client, _) = AzureConnector.Connect(container, server.Endpoint, anonymous: false, name => server.Env.GetValueOrDefault(name));
        return new AzureBlobObjectStore(client);
    }
}

/// <summary>
/// gs:// on Google's Cloud Storage emulator (firebase-tools) and on our GCS JSON API test server; uploads above 1 MiB
/// go resumable.
/// </summary>
[TestFixture("emulator")]
[TestFixture("ours")]
public sealed class GcsStoreContract(string kind) : ObjectStoreContract
{
    /// <summary>The emulator counts only objects against maxResults and sends every prefix with every page.</summary>
    protected override bool CountsPrefixesInMaxKeys => kind != "emulator";

    /// <summary>The emulator does not check the md5Hash of an upload's resource.</summary>
    protected override bool ChecksContentMd5 => kind != "emulator";

    protected override async Task<IObjectStore> CreateStoreAsync()
    {
        var server = await TestServers.GcsServer(kind);
        return new GcsObjectStore(server.NewBucket("contract"), server.Endpoint, _ => Task.FromResult<string?>(null), singleRequestBytes: 1024 * 1024);
    }
}
