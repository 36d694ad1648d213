namespace CloudMount.Core.Storage;

/// <summary>
/// Sends small request bodies without <c>Expect: 100-continue</c>, which the AWS SDK asks for on every PUT: waiting
/// for the server's interim answer costs a round trip, and only pays when a large body would be refused
/// (RFC 9110 §10.1.1). Bodies of more than <see cref="MaxBytes"/> bytes, or of unknown length, keep it.
/// Measured on s3rver: a 30 KB PUT waited 0.3-0.7 ms for "100 Continue" before sending its body.
/// </summary>
internal sealed class ExpectContinueHandler(HttpMessageHandler inner) : DelegatingHandler(inner)
{
    /// <summary>Largest body sent without waiting for "100 Continue", in bytes (1 MiB).</summary>
    public const long MaxBytes = 1 << 20;

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (request.Headers.ExpectContinue == true && request.Content?.Headers.ContentLength is { } length && length <= MaxBytes)
        {
            request.Headers.ExpectContinue = false;
        }
        return base.SendAsync(request, cancellationToken);
    }
}
