namespace CloudMount.Core.Storage;

/// <summary>
/// The answer to a range read: the bytes as a stream plus what the service said about the whole object.
/// Dispose it to release the connection.
/// </summary>
/// <param name="Content">The requested bytes (fewer when the range ran past the end). Read it to its end or dispose it.</param>
/// <param name="Info">The object as it was when the bytes were served: full size, ETag, encoding.</param>
/// <param name="Range">The range actually served, clamped to the object's size.</param>
public sealed record ObjectReadResult(Stream Content, ObjectInfo Info, ByteRange Range) : IAsyncDisposable, IDisposable
{
    /// <inheritdoc/>
    public ValueTask DisposeAsync() => Content.DisposeAsync();

    /// <inheritdoc/>
    public void Dispose() => Content.Dispose();
}
