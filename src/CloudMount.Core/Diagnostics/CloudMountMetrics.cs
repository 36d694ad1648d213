using System.Diagnostics.Metrics;

namespace CloudMount.Core.Diagnostics;

/// <summary>
/// The process's instruments (System.Diagnostics.Metrics, meter <see cref="MeterName"/>): requests by kind and
/// outcome with their durations, body bytes, retries, cache hits and misses per tier, read-ahead windows,
/// uploads in flight and buffer memory. The CLI exports them in Prometheus text format (<c>--metrics-addr</c>).
/// Names follow OpenTelemetry conventions: units in the instrument, dots in names.
/// </summary>
public static class CloudMountMetrics
{
    /// <summary>The meter's name, to subscribe to.</summary>
    public const string MeterName = "CloudMount";

    private static readonly Meter Meter = new(MeterName, "1.0");

    /// <summary>Requests made to stores; tags <c>kind</c> (list, head, get, put, delete, copy) and <c>outcome</c> (ok, error).</summary>
    public static readonly Counter<long> Requests = Meter.CreateCounter<long>("cloudmount.requests", "{request}", "Requests made to object stores");

    /// <summary>Request durations in seconds; tag <c>kind</c>.</summary>
    public static readonly Histogram<double> RequestDuration = Meter.CreateHistogram<double>("cloudmount.request.duration", "s", "Time to the first byte of an answer",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] });

    /// <summary>Body bytes; tag <c>direction</c> (down, up).</summary>
    public static readonly Counter<long> Bytes = Meter.CreateCounter<long>("cloudmount.bytes", "By", "Object bytes moved");

    /// <summary>Requests repeated after a transient failure.</summary>
    public static readonly Counter<long> Retries = Meter.CreateCounter<long>("cloudmount.retries", "{retry}", "Requests repeated after transient failures");

    /// <summary>Block lookups answered by a cache; tag <c>tier</c> (memory, disk).</summary>
    public static readonly Counter<long> CacheHits = Meter.CreateCounter<long>("cloudmount.cache.hits", "{block}", "Blocks served from a cache");

    /// <summary>Block lookups a cache could not answer; tag <c>tier</c>.</summary>
    public static readonly Counter<long> CacheMisses = Meter.CreateCounter<long>("cloudmount.cache.misses", "{block}", "Blocks a cache did not hold");

    /// <summary>Read-ahead window sizes in bytes, recorded when a window grows.</summary>
    public static readonly Histogram<long> PrefetchWindow = Meter.CreateHistogram<long>("cloudmount.prefetch.window", "By", "Read-ahead window after growing",
        advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = [1 << 20, 2 << 20, 4 << 20, 8 << 20, 16 << 20, 32 << 20, 64 << 20, 128 << 20, 256 << 20] });

    private static long _uploadsInFlight;

    /// <summary>Uploads running now (flushes, multipart parts).</summary>
    public static long UploadsInFlight => Interlocked.Read(ref _uploadsInFlight);

    /// <summary>Counts an upload as started; dispose the result when it ends.</summary>
    public static IDisposable UploadStarted()
    {
        Interlocked.Increment(ref _uploadsInFlight);
        return new Ender();
    }

    private sealed class Ender : IDisposable
    {
        private int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0) Interlocked.Decrement(ref _uploadsInFlight);
        }
    }

    static CloudMountMetrics()
    {
        Meter.CreateObservableGauge("cloudmount.upload.queue", () => UploadsInFlight, "{upload}", "Uploads in flight");
        Meter.CreateObservableGauge("cloudmount.buffers.outstanding", () => BufferPool.Shared.OutstandingBytes, "By", "Data-path buffer bytes in use");
    }
}
