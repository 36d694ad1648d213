namespace CloudMount.Core.Reading;

/// <summary>
/// Read-ahead settings, after mountpoint-s3's prefetcher: the first request is small, the window doubles on
/// each sequential read up to a cap, and is fetched as parallel range requests of <see cref="PartBytes"/>.
/// </summary>
public sealed record ReadAheadOptions
{
    /// <summary>Bytes fetched by the first read of a file and after every random jump (default 1 MiB).</summary>
    public long InitialWindowBytes { get; init; } = 1 * Bytes.MiB;

    /// <summary>Largest read-ahead window per open file in bytes (default 48 MiB, <see cref="BufferPool.DefaultBudgetBytes"/>).</summary>
    public long MaxWindowBytes { get; init; } = BufferPool.DefaultBudgetBytes;

    /// <summary>Size of one range request in bytes (default 8 MiB).</summary>
    public long PartBytes { get; init; } = 8 * Bytes.MiB;

    /// <summary>Range requests in flight at once for one open file (default 8).</summary>
    public int MaxParallelParts { get; init; } = 8;

    /// <summary>A forward jump of up to this many bytes past the window still counts as sequential (default 1 MiB).</summary>
    public long ForwardSeekToleranceBytes { get; init; } = 1 * Bytes.MiB;

    /// <summary>Bytes kept behind the reader so that reads arriving slightly out of order still hit (default 2 MiB).</summary>
    public long KeepBehindBytes { get; init; } = 2 * Bytes.MiB;
}
