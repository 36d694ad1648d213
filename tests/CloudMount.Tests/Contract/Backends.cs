using Amazon.Runtime;
using CloudMount.Core.Storage;
using CloudMount.Core.Storage.LocalFs;
using CloudMount.Core.Storage.Memory;
using CloudMount.Core.Storage.S3;
using CloudMount.Core.Storage.Swift;
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
