using CloudMount.Tests.Support;

namespace CloudMount.Tests.Fuse;

/// <summary>
/// Another client of the same bucket, beside the mount: it writes and reads objects without going through
/// CloudMount (a plain AWS SDK client for S3 servers, plain file I/O for file://).
/// </summary>
public interface IBesideClient
{
    Task PutAsync(string key, byte[] data);
    Task<byte[]?> GetAsync(string key);
    Task<List<string>> KeysAsync(string prefix);
    Task DeleteAsync(string key);
}

public sealed class S3BesideClient(S3Server server, string bucket) : IBesideClient
{
    public Task PutAsync(string key, byte[] data) => server.PutAsync(bucket, key, data);
    public Task<byte[]?> GetAsync(string key) => server.GetAsync(bucket, key);
    public Task<List<string>> KeysAsync(string prefix) => server.KeysAsync(bucket, prefix);

    public async Task DeleteAsync(string key)
    {
        using var c = server.NewClient();
        await c.DeleteObjectAsync(bucket, key);
    }
}

public sealed class LocalBesideClient(string root) : IBesideClient
{
    public Task PutAsync(string key, byte[] data)
    {
        string path = Path.Combine(root, key);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, data);
        return Task.CompletedTask;
    }

    public Task<byte[]?> GetAsync(string key)
    {
        string path = Path.Combine(root, key);
        return Task.FromResult(File.Exists(path) ? File.ReadAllBytes(path) : null);
    }

    public Task<List<string>> KeysAsync(string prefix)
    {
        var keys = Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(root, f).Replace('\\', '/'))
            .Where(k => k.StartsWith(prefix, StringComparison.Ordinal) && !k.StartsWith(".cloudmount-tmp/", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .ToList();
        return Task.FromResult(keys);
    }

    public Task DeleteAsync(string key)
    {
        File.Delete(Path.Combine(root, key));
        return Task.CompletedTask;
    }
}

public sealed class AzureBesideClient(AzuriteServer server, string container) : IBesideClient
{
    private Azure.Storage.Blobs.BlobContainerClient C => server.Container(container);

    public async Task PutAsync(string key, byte[] data) => await C.GetBlobClient(key).UploadAsync(new BinaryData(data), overwrite: true);

    public async Task<byte[]?> GetAsync(string key)
    {
        var blob = C.GetBlobClient(key);
        if (!await blob.ExistsAsync()) return null;
        return (await blob.DownloadContentAsync()).Value.Content.ToArray();
    }

    public async Task<List<string>> KeysAsync(string prefix)
    {
        var keys = new List<string>();
        await foreach (var b in C.GetBlobsAsync(Azure.Storage.Blobs.Models.BlobTraits.None, Azure.Storage.Blobs.Models.BlobStates.None, prefix, default)) keys.Add(b.Name);
        return keys;
    }

    public async Task DeleteAsync(string key) => await C.GetBlobClient(key).DeleteIfExistsAsync();
}

public sealed class GcsBesideClient(IGcsServer server, string bucket) : IBesideClient
{
    public Task PutAsync(string key, byte[] data) => server.PutAsync(bucket, key, data);
    public Task<byte[]?> GetAsync(string key) => server.GetAsync(bucket, key);
    public Task<List<string>> KeysAsync(string prefix) => server.KeysAsync(bucket, prefix);
    public Task DeleteAsync(string key) => server.DeleteAsync(bucket, key);
}
