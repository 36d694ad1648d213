namespace CloudMount.Core.Storage.Decorators;

/// <summary>
/// Base for decorators: forwards every call to <see cref="Inner"/>. Override what the decorator changes.
/// Disposing the decorator disposes the inner store.
/// </summary>
public abstract class DelegatingObjectStore(IObjectStore inner) : IObjectStore
{
    /// <summary>The wrapped store.</summary>
    protected IObjectStore Inner { get; } = inner;

    /// <inheritdoc/>
    public virtual string Name => Inner.Name;

    /// <inheritdoc/>
    public virtual StoreCapabilities Capabilities => Inner.Capabilities;

    /// <inheritdoc/>
    public virtual IMultipartUploads? Multipart => Inner.Multipart;

    /// <inheritdoc/>
    public virtual Task<ListPage> ListAsync(ListRequest request, CancellationToken cancellationToken) =>
        Inner.ListAsync(request, cancellationToken);

    /// <inheritdoc/>
    public virtual Task<ObjectInfo?> HeadAsync(string key, CancellationToken cancellationToken) =>
        Inner.HeadAsync(key, cancellationToken);

    /// <inheritdoc/>
    public virtual Task<ObjectReadResult> ReadAsync(string key, ByteRange range, string? ifMatch, CancellationToken cancellationToken) =>
        Inner.ReadAsync(key, range, ifMatch, cancellationToken);

    /// <inheritdoc/>
    public virtual Task<ObjectInfo> WriteAsync(string key, ObjectContent content, ObjectWriteOptions options, CancellationToken cancellationToken) =>
        Inner.WriteAsync(key, content, options, cancellationToken);

    /// <inheritdoc/>
    public virtual Task DeleteAsync(string key, CancellationToken cancellationToken) =>
        Inner.DeleteAsync(key, cancellationToken);

    /// <inheritdoc/>
    public virtual Task<ObjectInfo> CopyAsync(string sourceKey, string destinationKey, CancellationToken cancellationToken) =>
        Inner.CopyAsync(sourceKey, destinationKey, cancellationToken);

    /// <inheritdoc/>
    public virtual Task<ObjectInfo> UpdateMetadataAsync(string key, ObjectWriteOptions options, string? ifMatch, CancellationToken cancellationToken) =>
        Inner.UpdateMetadataAsync(key, options, ifMatch, cancellationToken);

    /// <inheritdoc/>
    public virtual ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        return Inner.DisposeAsync();
    }
}

/// <summary>
/// Wraps a store's multipart capability: each call (start, part, complete) goes through <c>wrap</c>, a decorator's
/// per-request behaviour (retries, counting). Abort is passed through as is.
/// </summary>
/// <param name="Kind">"start", "part", "complete", or "abort" and "list" (of earlier uploads).</param>
/// <param name="Bytes">Body bytes sent by the call (a part's length, otherwise 0).</param>
internal readonly record struct MultipartCall(string Kind, long Bytes);

internal sealed class WrappedMultipart(IMultipartUploads inner, Func<MultipartCall, Func<CancellationToken, Task<object?>>, CancellationToken, Task<object?>> wrap) : IMultipartUploads
{
    public long MinPartBytes => inner.MinPartBytes;

    public int MaxParts => inner.MaxParts;

    public async Task<IMultipartUpload> StartAsync(string key, ObjectWriteOptions options, CancellationToken cancellationToken)
    {
        var upload = (IMultipartUpload)(await wrap(new("start", 0), async ct => await inner.StartAsync(key, options, ct).ConfigureAwait(false), cancellationToken).ConfigureAwait(false))!;
        return new Upload(upload, wrap);
    }

    public async Task<IReadOnlyList<(string Id, DateTimeOffset Started)>> ListUnfinishedAsync(string key, CancellationToken cancellationToken) =>
        (IReadOnlyList<(string, DateTimeOffset)>)(await wrap(new("list", 0), async ct => await inner.ListUnfinishedAsync(key, ct).ConfigureAwait(false), cancellationToken).ConfigureAwait(false))!;

    public Task AbortAsync(string key, string uploadId, CancellationToken cancellationToken) =>
        wrap(new("abort", 0), async ct => { await inner.AbortAsync(key, uploadId, ct).ConfigureAwait(false); return null; }, cancellationToken);

    private sealed class Upload(IMultipartUpload inner, Func<MultipartCall, Func<CancellationToken, Task<object?>>, CancellationToken, Task<object?>> wrap) : IMultipartUpload
    {
        public string Key => inner.Key;

        public string Id => inner.Id;

        public Task UploadPartAsync(int partNumber, ObjectContent content, CancellationToken cancellationToken) =>
            wrap(new("part", content.Length), async ct => { await inner.UploadPartAsync(partNumber, content, ct).ConfigureAwait(false); return null; }, cancellationToken);

        public async Task<ObjectInfo> CompleteAsync(int parts, long totalBytes, CancellationToken cancellationToken) =>
            (ObjectInfo)(await wrap(new("complete", 0), async ct => await inner.CompleteAsync(parts, totalBytes, ct).ConfigureAwait(false), cancellationToken).ConfigureAwait(false))!;

        public Task AbortAsync(CancellationToken cancellationToken) => inner.AbortAsync(cancellationToken);
    }
}
