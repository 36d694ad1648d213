namespace CloudMount.Core.Storage.Decorators;

/// <summary>
/// Counts every request that reaches the store below it, by kind, and the body bytes moved. Placed innermost
/// (just above the backend) so that retries are counted as the requests they are.
/// </summary>
public sealed class CountingObjectStore(IObjectStore inner, RequestStats stats) : DelegatingObjectStore(inner)
{
    /// <summary>The counters this decorator adds to.</summary>
    public RequestStats Stats { get; } = stats;

    /// <inheritdoc/>
    /// <remarks>Starting, each part and completing a multipart upload count as one PUT each (S3 bills them so).</remarks>
    public override IMultipartUploads? Multipart => Inner.Multipart is { } m
        ? new WrappedMultipart(m, async (what, call, ct) =>
        {
            var result = await Count(RequestKind.Put, call(ct)).ConfigureAwait(false);
            Stats.AddUploaded(what.Bytes);
            return result;
        })
        : null;

    private async Task<T> Count<T>(RequestKind kind, Task<T> call)
    {
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            var result = await call.ConfigureAwait(false);
            Stats.AddRequest(kind, ok: true, System.Diagnostics.Stopwatch.GetElapsedTime(start));
            return result;
        }
        catch
        {
            Stats.AddRequest(kind, ok: false, System.Diagnostics.Stopwatch.GetElapsedTime(start));
            throw;
        }
    }

    /// <inheritdoc/>
    public override Task<ListPage> ListAsync(ListRequest request, CancellationToken cancellationToken) =>
        Count(RequestKind.List, Inner.ListAsync(request, cancellationToken));

    /// <inheritdoc/>
    public override Task<ObjectInfo?> HeadAsync(string key, CancellationToken cancellationToken) =>
        Count(RequestKind.Head, Inner.HeadAsync(key, cancellationToken));

    /// <inheritdoc/>
    public override async Task<ObjectReadResult> ReadAsync(string key, ByteRange range, string? ifMatch, CancellationToken cancellationToken)
    {
        var r = await Count(RequestKind.Get, Inner.ReadAsync(key, range, ifMatch, cancellationToken)).ConfigureAwait(false);
        return r with { Content = new ObservedReadStream(r.Content, Stats.AddDownloaded) };
    }

    /// <inheritdoc/>
    public override async Task<ObjectInfo> WriteAsync(string key, ObjectContent content, ObjectWriteOptions options, CancellationToken cancellationToken)
    {
        var info = await Count(RequestKind.Put, Inner.WriteAsync(key, content, options, cancellationToken)).ConfigureAwait(false);
        Stats.AddUploaded(content.Length);
        return info;
    }

    /// <inheritdoc/>
    public override Task DeleteAsync(string key, CancellationToken cancellationToken) =>
        Count(RequestKind.Delete, WrapVoid(Inner.DeleteAsync(key, cancellationToken)));

    /// <inheritdoc/>
    public override Task<ObjectInfo> CopyAsync(string sourceKey, string destinationKey, CancellationToken cancellationToken) =>
        Count(RequestKind.Copy, Inner.CopyAsync(sourceKey, destinationKey, cancellationToken));

    /// <inheritdoc/>
    /// <remarks>Counted as a COPY: that is the request S3 makes of it.</remarks>
    public override Task<ObjectInfo> UpdateMetadataAsync(string key, ObjectWriteOptions options, string? ifMatch, CancellationToken cancellationToken) =>
        Count(RequestKind.Copy, Inner.UpdateMetadataAsync(key, options, ifMatch, cancellationToken));

    private static async Task<bool> WrapVoid(Task t)
    {
        await t.ConfigureAwait(false);
        return true;
    }
}
