namespace CloudMount.Core.Storage;

/// <summary>An HTTP response's body stream that disposes the response with it (the HttpClient backends' reads).</summary>
internal sealed class HttpResponseBody(Stream inner, HttpResponseMessage response) : ReadOnlyStreamBase
{
    /// <inheritdoc/>
    protected override ValueTask<int> ReadCoreAsync(Memory<byte> buffer, CancellationToken cancellationToken) =>
        inner.ReadAsync(buffer, cancellationToken);

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
            response.Dispose();
        }
        base.Dispose(disposing);
    }
}
