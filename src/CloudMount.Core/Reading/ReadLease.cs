namespace CloudMount.Core.Reading;

/// <summary>
/// The bytes of one read, lent out without copying: one or more segments of pooled, pinned buffers (read-ahead
/// parts or a rented buffer). Pass them to the kernel, then dispose the lease to give the buffers back.
/// </summary>
public sealed class ReadLease : IDisposable
{
    private Action? _release;

    /// <summary>Creates a lease; <paramref name="release"/> runs once, on dispose.</summary>
    public ReadLease(IReadOnlyList<ArraySegment<byte>> segments, Action? release)
    {
        Segments = segments;
        _release = release;
        Length = segments.Sum(s => s.Count);
    }

    /// <summary>An empty read (end of file).</summary>
    public static ReadLease Empty => new([], null);

    /// <summary>The bytes, in order.</summary>
    public IReadOnlyList<ArraySegment<byte>> Segments { get; }

    /// <summary>Total bytes.</summary>
    public int Length { get; }

    /// <summary>Copies the bytes into <paramref name="destination"/>; returns how many.</summary>
    public int CopyTo(Span<byte> destination)
    {
        int at = 0;
        foreach (var s in Segments)
        {
            s.AsSpan().CopyTo(destination[at..]);
            at += s.Count;
        }
        return at;
    }

    /// <summary>Gives the buffers back.</summary>
    public void Dispose() => Interlocked.Exchange(ref _release, null)?.Invoke();
}
