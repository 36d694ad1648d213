using Amazon.Runtime;
using Amazon.S3.Model;

namespace CloudMount.Core.Storage.S3;

/// <summary>The SDK's HTTP clients: ours, with the stall guard (<see cref="StoreHttp"/>), cached by the SDK.</summary>
internal sealed class GuardedHttpClients(HttpTimeouts timeouts) : HttpClientFactory
{
    public override HttpClient CreateHttpClient(IClientConfig clientConfig) => StoreHttp.CreateClient(timeouts);

    public override bool UseSDKHttpClientCaching(IClientConfig clientConfig) => true;

    public override bool DisposeHttpClientsAfterUse(IClientConfig clientConfig) => false;

    public override string GetConfigUniqueString(IClientConfig clientConfig) => $"cloudmount-{timeouts.FirstByte.Ticks}-{timeouts.Idle.Ticks}-{timeouts.Connect.Ticks}";
}

/// <summary>The response body; disposing it disposes the response and returns the connection.</summary>
internal sealed class S3ResponseStream(GetObjectResponse response) : ReadOnlyStreamBase
{
    protected override ValueTask<int> ReadCoreAsync(Memory<byte> buffer, CancellationToken cancellationToken) =>
        response.ResponseStream.ReadAsync(buffer, cancellationToken);

    protected override void Dispose(bool disposing)
    {
        if (disposing) response.Dispose();
        base.Dispose(disposing);
    }
}
