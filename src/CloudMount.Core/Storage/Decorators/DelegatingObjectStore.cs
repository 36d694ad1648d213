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
    public virtual ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        return Inner.DisposeAsync();
    }
}
