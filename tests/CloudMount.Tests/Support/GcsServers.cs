using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace CloudMount.Tests.Support;

/// <summary>A GCS JSON API server the tests run gs:// against: Google's emulator or our own, with "another client" of it.</summary>
public interface IGcsServer
{
    /// <summary>"emulator" (firebase-tools) or "ours" (<see cref="GcsTestServer"/>).</summary>
    string Kind { get; }

    /// <summary>The base URL, e.g. http://127.0.0.1:PORT.</summary>
    Uri Endpoint { get; }

    /// <summary>A fresh bucket with a unique name.</summary>
    string NewBucket(string hint);

    Task PutAsync(string bucket, string key, byte[] data);

    Task<byte[]?> GetAsync(string bucket, string key);

    Task<List<string>> KeysAsync(string bucket, string prefix = "");

    Task DeleteAsync(string bucket, string key);
}

/// <summary>Our GCS server as an <see cref="IGcsServer"/>.</summary>
public sealed class OurGcsServer(GcsTestServer server) : IGcsServer
{
    public GcsTestServer Server { get; } = server;
    public string Kind => "ours";
    public Uri Endpoint => Server.Endpoint;

    public string NewBucket(string hint)
    {
        string bucket = $"{hint}-{Guid.NewGuid():n}"[..Math.Min(30, hint.Length + 13)];
        Server.CreateBucket(bucket);
        return bucket;
    }

    public Task PutAsync(string bucket, string key, byte[] data)
    {
        Server.Put(bucket, key, data);
        return Task.CompletedTask;
    }

    public Task<byte[]?> GetAsync(string bucket, string key) => Task.FromResult(Server.Get(bucket, key)?.Data);
    public Task<List<string>> KeysAsync(string bucket, string prefix = "") => Task.FromResult(Server.Keys(bucket, prefix));

    public Task DeleteAsync(string bucket, string key)
    {
        Server.Delete(bucket, key);
        return Task.CompletedTask;
    }
}

/// <summary>
/// Google's Cloud Storage emulator (npm firebase-tools, started by tests/servers/gcs-emulator.sh), with a plain
/// HttpClient as the other client: media uploads, alt=media reads, listings and deletes of the JSON API.
/// </summary>
public sealed class GcsEmulatorServer(Uri endpoint) : IGcsServer
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(60) };

    public string Kind => "emulator";
    public Uri Endpoint { get; } = endpoint;

    /// <summary>The emulator has every bucket; a unique name keeps tests apart.</summary>
    public string NewBucket(string hint) => $"{hint}-{Guid.NewGuid():n}"[..Math.Min(30, hint.Length + 13)];

    private Uri Object(string bucket, string key, string query = "") =>
        new($"{Endpoint.AbsoluteUri.TrimEnd('/')}/storage/v1/b/{Uri.EscapeDataString(bucket)}/o/{Uri.EscapeDataString(key)}{query}");

    public async Task PutAsync(string bucket, string key, byte[] data)
    {
        using var content = new ByteArrayContent(data);
        content.Headers.ContentType = new("application/octet-stream");
        using var r = await Http.PostAsync($"{Endpoint.AbsoluteUri.TrimEnd('/')}/upload/storage/v1/b/{Uri.EscapeDataString(bucket)}/o?uploadType=media&name={Uri.EscapeDataString(key)}", content);
        r.EnsureSuccessStatusCode();
    }

    public async Task<byte[]?> GetAsync(string bucket, string key)
    {
        using var r = await Http.GetAsync(Object(bucket, key, "?alt=media"));
        if (r.StatusCode == HttpStatusCode.NotFound) return null;
        r.EnsureSuccessStatusCode();
        return await r.Content.ReadAsByteArrayAsync();
    }

    public async Task<List<string>> KeysAsync(string bucket, string prefix = "")
    {
        var keys = new List<string>();
        string? token = null;
        do
        {
            string url = $"{Endpoint.AbsoluteUri.TrimEnd('/')}/storage/v1/b/{Uri.EscapeDataString(bucket)}/o?prefix={Uri.EscapeDataString(prefix)}" + (token is null ? "" : $"&pageToken={Uri.EscapeDataString(token)}");
            using var doc = JsonDocument.Parse(await Http.GetStringAsync(url));
            if (doc.RootElement.TryGetProperty("items", out var items)) keys.AddRange(items.EnumerateArray().Select(i => i.GetProperty("name").GetString()!));
            token = doc.RootElement.TryGetProperty("nextPageToken", out var t) ? t.GetString() : null;
        }
        while (token is not null);
        keys.Sort(StringComparer.Ordinal);
        return keys;
    }

    public async Task DeleteAsync(string bucket, string key)
    {
        using var r = await Http.DeleteAsync(Object(bucket, key));
        if (r.StatusCode != HttpStatusCode.NotFound) r.EnsureSuccessStatusCode();
    }
}
