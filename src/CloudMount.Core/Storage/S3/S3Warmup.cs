using System.Net;
using Amazon.Runtime;

namespace CloudMount.Core.Storage.S3;

/// <summary>
/// Runs a ListObjectsV2, a ranged GetObject and a HeadObject through the SDK's whole pipeline (marshallers, SigV4 signer, handlers,
/// unmarshallers) and <see cref="S3ObjectStore"/>'s translation of them, against answers made in memory: no request
/// leaves the process. A mount runs it beside <see cref="Vfs.MountWarmup"/>, so the user's first read does not pay
/// for loading and compiling the SDK's GetObject path (the start-up probe lists a bucket that may hold nothing).
/// </summary>
public static class S3Warmup
{
    private const int Bytes = 4096;
    private const string ETag = "\"0f343b0931126a20f133d67c2b018a3b\"";

    /// <summary>A ListObjectsV2 answer with an object and a common prefix, URL-encoded as asked.</summary>
    private const string Listing = """
        <?xml version="1.0" encoding="UTF-8"?>
        <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>warmup</Name><Prefix></Prefix><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><Delimiter>/</Delimiter><EncodingType>url</EncodingType><IsTruncated>false</IsTruncated><Contents><Key>k</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified><ETag>&quot;0f343b0931126a20f133d67c2b018a3b&quot;</ETag><Size>4096</Size><StorageClass>STANDARD</StorageClass></Contents><CommonPrefixes><Prefix>d/</Prefix></CommonPrefixes></ListBucketResult>
        """;

    /// <summary>Runs the warm-up; failures are ignored (it only saves time).</summary>
    /// <param name="cancellationToken">Stops the warm-up.</param>
    /// <returns>True when the read and the HEAD went through as a real server's would; false when one failed.</returns>
    public static async Task<bool> RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            var options = new S3StoreOptions { Endpoint = new Uri("http://cloudmount-warmup.invalid/"), Region = "us-east-1" };
            await using var store = new S3ObjectStore("warmup", new BasicAWSCredentials("warmup", "warmup"), options, new CannedClients());
            var page = await store.ListAsync(new ListRequest("", "/", null, 1000), cancellationToken).ConfigureAwait(false);
            if (page.Objects.Count != 1 || page.Objects[0].Key != "k" || page.CommonPrefixes.Count != 1) return false;
            var buffer = new byte[Bytes];
            await using (var r = await store.ReadAsync("k", new ByteRange(0, Bytes), ETag, cancellationToken).ConfigureAwait(false))
            {
                int total = 0, n;
                while ((n = await r.Content.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0) total += n;
                if (total != Bytes || r.Info.Size != Bytes) return false;
            }
            return await store.HeadAsync("k", cancellationToken).ConfigureAwait(false) is { Size: Bytes, ETag: ETag };
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Only time is at stake.
            return false;
        }
    }

    /// <summary>HTTP clients of the warm-up: cached by the SDK under their own name, never the mount's.</summary>
    private sealed class CannedClients : HttpClientFactory
    {
        public override HttpClient CreateHttpClient(IClientConfig clientConfig) => new(new CannedAnswers());

        public override bool UseSDKHttpClientCaching(IClientConfig clientConfig) => false;

        public override bool DisposeHttpClientsAfterUse(IClientConfig clientConfig) => true;

        public override string GetConfigUniqueString(IClientConfig clientConfig) => "cloudmount-s3-warmup";
    }

    /// <summary>Answers a ranged GET with 206 and 4 KiB of zeros, and anything else with the object's headers.</summary>
    private sealed class CannedAnswers : HttpMessageHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            // Suspends like a network answer, so the SDK's and our code that resumes after it runs too.
            await Task.Yield();
            if (request.RequestUri?.Query.Contains("list-type=2", StringComparison.Ordinal) == true)
            {
                return new HttpResponseMessage(HttpStatusCode.OK) { RequestMessage = request, Content = new StringContent(Listing, System.Text.Encoding.UTF8, "application/xml") };
            }
            bool get = request.Method == HttpMethod.Get;
            var answer = new HttpResponseMessage(get ? HttpStatusCode.PartialContent : HttpStatusCode.OK)
            {
                RequestMessage = request,
                Content = new ByteArrayContent(get ? new byte[Bytes] : []),
            };
            answer.Headers.ETag = new System.Net.Http.Headers.EntityTagHeaderValue(ETag);
            answer.Headers.TryAddWithoutValidation("x-amz-request-id", "warmup");
            answer.Content.Headers.LastModified = DateTimeOffset.UnixEpoch;
            answer.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/octet-stream");
            if (get) answer.Content.Headers.ContentRange = new System.Net.Http.Headers.ContentRangeHeaderValue(0, Bytes - 1, Bytes);
            else answer.Content.Headers.ContentLength = Bytes;
            return answer;
        }
    }
}
