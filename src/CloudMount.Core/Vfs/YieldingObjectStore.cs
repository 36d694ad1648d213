using CloudMount.Core.Storage;
using CloudMount.Core.Storage.Decorators;

namespace CloudMount.Core.Vfs;

/// <summary>
/// <see cref="MountWarmup"/>'s store: every call and every body read first yields the thread, as a network request
/// does, so the warm-up runs the code that resumes suspended async methods (the async builders' generic
/// instantiations over our state machines, which ReadyToRun does not precompile: 231 methods compiled during a
/// fresh mount's first <c>dd</c> before, about 60 ms of its 100).
/// </summary>
internal sealed class YieldingObjectStore(IObjectStore inner) : DelegatingObjectStore(inner)
{
    /// <inheritdoc/>
    public override async Task<ListPage> ListAsync(ListRequest request, CancellationToken cancellationToken)
    {
        await Task.Yield();
        return await Inner.ListAsync(request, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public override async Task<ObjectInfo?> HeadAsync(string key, CancellationToken cancellationToken)
    {
        await Task.Yield();
        return await Inner.HeadAsync(key, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public override async Task<ObjectReadResult> ReadAsync(string key, ByteRange range, string? ifMatch, CancellationToken cancellationToken)
    {
        await Task.Yield();
        var r = await Inner.ReadAsync(key, range, ifMatch, cancellationToken).ConfigureAwait(false);
        return r with { Content = new YieldingStream(r.Content) };
    }

    /// <inheritdoc/>
    public override async Task<ObjectInfo> WriteAsync(string key, ObjectContent content, ObjectWriteOptions options, CancellationToken cancellationToken)
    {
        await Task.Yield();
        return await Inner.WriteAsync(key, content, options, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A body whose every read yields first.</summary>
    private sealed class YieldingStream(Stream inner) : ReadOnlyStreamBase
    {
        protected override async ValueTask<int> ReadCoreAsync(Memory<byte> buffer, CancellationToken cancellationToken)
        {
            await Task.Yield();
            return await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }

        public override ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
