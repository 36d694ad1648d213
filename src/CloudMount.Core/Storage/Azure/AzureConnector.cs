using Azure;
using Azure.Storage;
using Azure.Storage.Blobs;

namespace CloudMount.Core.Storage.Azure;

/// <summary>
/// Builds the container client for <c>az://CONTAINER</c> from the environment variables the Azure CLI and SDKs
/// read: <c>AZURE_STORAGE_CONNECTION_STRING</c>; else <c>AZURE_STORAGE_ACCOUNT</c> with
/// <c>AZURE_STORAGE_KEY</c> (shared key) or <c>AZURE_STORAGE_SAS_TOKEN</c>; else anonymous access (public
/// containers). The blob endpoint is <c>--endpoint</c> when given (Azurite:
/// <c>http://127.0.0.1:10000/devstoreaccount1</c>), else <c>https://ACCOUNT.blob.core.windows.net</c>.
/// DefaultAzureCredential (Azure AD) needs Azure.Identity, which this build does not include.
/// </summary>
public static class AzureConnector
{
    /// <summary>The container client and where its credentials came from; requests go through <see cref="StoreHttp"/>'s stall guard.</summary>
    /// <exception cref="StoreUrlException">Not enough to name an endpoint.</exception>
    public static (BlobContainerClient Container, string Source) Connect(string container, Uri? endpoint, bool anonymous, Func<string, string?>? env = null, HttpTimeouts? timeouts = null)
    {
        env ??= Environment.GetEnvironmentVariable;
        string? Get(string name) => env(name) is { Length: > 0 } v ? v : null;
        var options = AzureBlobObjectStore.ClientOptions(timeouts ?? HttpTimeouts.Default);
        string? account = Get("AZURE_STORAGE_ACCOUNT");
        if (!anonymous && Get("AZURE_STORAGE_CONNECTION_STRING") is { } connection)
        {
            var service = new BlobServiceClient(connection, options);
            if (endpoint is not null)
            {
                throw new StoreUrlException("--endpoint cannot be combined with AZURE_STORAGE_CONNECTION_STRING (it names its endpoint)");
            }
            return (service.GetBlobContainerClient(container), "AZURE_STORAGE_CONNECTION_STRING");
        }
        var blobEndpoint = endpoint ?? (account is not null ? new Uri($"https://{account}.blob.core.windows.net")
            : throw new StoreUrlException("no Azure account: set AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT with AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN, or give --endpoint"));
        var containerUri = new Uri(blobEndpoint.AbsoluteUri.TrimEnd('/') + "/" + Uri.EscapeDataString(container));
        if (!anonymous && Get("AZURE_STORAGE_KEY") is { } key)
        {
            // With an --endpoint of the path style (Azurite), the account is the endpoint's first segment.
            account ??= blobEndpoint.AbsolutePath.Trim('/').Split('/')[0];
            if (account.Length == 0) throw new StoreUrlException("AZURE_STORAGE_KEY needs AZURE_STORAGE_ACCOUNT");
            return (new BlobContainerClient(containerUri, new StorageSharedKeyCredential(account, key), options), $"AZURE_STORAGE_KEY of account {account}");
        }
        if (!anonymous && Get("AZURE_STORAGE_SAS_TOKEN") is { } sas)
        {
            return (new BlobContainerClient(containerUri, new AzureSasCredential(sas.TrimStart('?')), options), "AZURE_STORAGE_SAS_TOKEN");
        }
        return (new BlobContainerClient(containerUri, options), "anonymous (public container)");
    }
}
