namespace CloudMount.Core.Storage.Decorators;

/// <summary>
/// How transient failures are retried: exponential random-window backoff as CloudFiles does with tenacity's
/// <c>wait_random_exponential(multiplier=0.5, max=60)</c> and <c>stop_after_attempt(7)</c>: before retry
/// <c>n</c> (0-based) wait a uniformly random time in [0, min(MaxDelay, BaseDelay × 2^n)].
/// </summary>
public sealed record RetryPolicy
{
    /// <summary>CloudFiles' policy: 7 attempts, 0.5 s doubling to 60 s.</summary>
    public static RetryPolicy Default { get; } = new();

    /// <summary>One attempt, no retry (used for start-up checks, which must fail within seconds).</summary>
    public static RetryPolicy None { get; } = new() { MaxAttempts = 1 };

    /// <summary>Total attempts including the first; at least 1.</summary>
    public int MaxAttempts { get; init; } = 7;

    /// <summary>Upper bound of the first random wait.</summary>
    public TimeSpan BaseDelay { get; init; } = TimeSpan.FromSeconds(0.5);

    /// <summary>Cap of the random window.</summary>
    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Connection failures (<see cref="ConnectionFailedException"/>: refused or reset connections, and servers that
    /// stay silent past the timeouts) within <see cref="BreakerSamplingWindow"/>, nine in ten of the requests made, that
    /// open the circuit breaker; 0 disables it. Two, so that a request to a stalled server fails after two timeouts
    /// (its first attempt and one retry) rather than after every attempt.
    /// </summary>
    public int BreakerMinimumFailures { get; init; } = 2;

    /// <summary>Window in which failures are counted for the breaker (see <see cref="WithTimeouts"/>).</summary>
    public TimeSpan BreakerSamplingWindow { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// This policy with a breaker window of one and a half first-byte timeouts: when a server stalls, each attempt fails
    /// one timeout after it started, so at the second failure the first is still in the window and the successes from
    /// before the stall have left it, and the breaker opens after two timeouts (refused connections, which fail at once,
    /// open it after two within the window as before). Polly's breaker weighs failures against all outcomes in its window.
    /// </summary>
    public RetryPolicy WithTimeouts(HttpTimeouts timeouts) =>
        this with { BreakerSamplingWindow = TimeSpan.FromTicks(Math.Max(TimeSpan.FromSeconds(2).Ticks, timeouts.FirstByte.Ticks * 3 / 2)) };

    /// <summary>How long requests fail fast once the breaker is open, before one is let through to probe.</summary>
    public TimeSpan BreakDuration { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The wait before retry number <paramref name="retry"/> (0-based).</summary>
    public TimeSpan DelayBefore(int retry)
    {
        double high = Math.Min(MaxDelay.TotalSeconds, BaseDelay.TotalSeconds * Math.Pow(2, retry));
        return TimeSpan.FromSeconds(Random.Shared.NextDouble() * high);
    }

    /// <summary>
    /// True when <paramref name="e"/> may pass on a second try: a transient <see cref="ObjectStoreException"/>,
    /// a connection or I/O error, or a timeout (a cancellation that the caller did not ask for).
    /// </summary>
    public static bool IsTransient(Exception e, CancellationToken callerToken) => e switch
    {
        StoreUnavailableException => false,
        ObjectStoreException ose => ose.IsTransient,
        HttpRequestException => true,
        IOException io => io.InnerException is not ObjectStoreException inner || inner.IsTransient,
        TimeoutException => true,
        OperationCanceledException => !callerToken.IsCancellationRequested,
        _ => false,
    };
}
