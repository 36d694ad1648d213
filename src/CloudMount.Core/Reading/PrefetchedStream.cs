namespace CloudMount.Core.Reading;

/// <summary>
/// An object read start to end as a stream, through a <see cref="Prefetcher"/>: the window grows as the reader
/// goes, and several range requests run in parallel ahead of it, so one consumer (a decoder) gets the speed of the
/// mount's sequential reads rather than that of a single GET stream. Owns the prefetcher.
/// </summary>
public sealed class PrefetchedStream(Prefetcher reader) : ReadOnlyStreamBase
{
    private long _position;

    /// <summary>Bytes read so far.</summary>
    public long BytesRead => _position;

    /// <inheritdoc/>
    /// <exception cref="Storage.PreconditionFailedException">The object changed since the prefetcher was made.</exception>
    protected override async ValueTask<int> ReadCoreAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        int n = await reader.ReadAsync(_position, buffer, cancellationToken).ConfigureAwait(false);
        _position += n;
        return n;
    }

    /// <inheritdoc/>
    public override async ValueTask DisposeAsync()
    {
        await reader.DisposeAsync().ConfigureAwait(false);
        await base.DisposeAsync().ConfigureAwait(false);
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing) reader.DisposeAsync().AsTask().GetAwaiter().GetResult();
        base.Dispose(disposing);
    }
}
