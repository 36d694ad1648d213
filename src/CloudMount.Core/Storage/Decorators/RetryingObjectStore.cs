using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;

namespace CloudMount.Core.Storage.Decorators;

/// <summary>
/// Retries transient failures (<see cref="RetryPolicy.IsTransient"/>) of every operation through a Polly.Core
/// pipeline, with the random exponential backoff of <see cref="RetryPolicy"/>. Inside the retries sits a circuit
/// breaker on connection failures: once the store has been unreachable for a few requests in a row, requests fail
/// at once with <see cref="StoreUnavailableException"/> (so an offline mount answers from its caches without
/// waiting), and one request is let through every <see cref="RetryPolicy.BreakDuration"/> to notice the store
/// coming back. A read whose body breaks off
/// part-way resumes from the byte where it stopped, pinned to the ETag of the first answer, so the caller
/// never sees a short or mixed body. Writes are retried whole, which <see cref="ObjectContent"/> allows.
/// </summary>
public sealed class RetryingObjectStore : DelegatingObjectStore
{
    private readonly RetryPolicy _policy;
    private readonly ResiliencePipeline _pipeline;
    private readonly ILogger _logger;
    private readonly RequestStats? _stats;

    /// <summary>Wraps <paramref name="inner"/>.</summary>
    /// <param name="inner">The store to retry.</param>
    /// <param name="policy">Attempts and delays.</param>
    /// <param name="stats">Where retries are counted, or <c>null</c>.</param>
    /// <param name="logger">Receives one warning per retry.</param>
    public RetryingObjectStore(IObjectStore inner, RetryPolicy policy, RequestStats? stats = null, ILogger? logger = null) : base(inner)
    {
        _policy = policy;
        _stats = stats;
        _logger = logger ?? NullLogger.Instance;
        var builder = new ResiliencePipelineBuilder();
        if (policy.MaxAttempts > 1)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = policy.MaxAttempts - 1,
                ShouldHandle = args => ValueTask.FromResult(
                    args.Outcome.Exception is { } e && RetryPolicy.IsTransient(e, args.Context.CancellationToken)),
                DelayGenerator = args => ValueTask.FromResult<TimeSpan?>(policy.DelayBefore(args.AttemptNumber)),
                OnRetry = args =>
                {
                    _stats?.AddRetry();
                    _logger.LogWarning("{Store}: retry {Attempt} of {Max} in {Delay:0.0} s after: {Error}",
                        Inner.Name, args.AttemptNumber + 1, policy.MaxAttempts - 1, args.RetryDelay.TotalSeconds, args.Outcome.Exception?.Message);
                    return ValueTask.CompletedTask;
                },
            });
        }
        if (policy.BreakerMinimumFailures > 0)
        {
            builder.AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                FailureRatio = 0.9,
                MinimumThroughput = policy.BreakerMinimumFailures,
                SamplingDuration = policy.BreakerSamplingWindow,
                BreakDuration = policy.BreakDuration,
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is ConnectionFailedException),
                OnOpened = args =>
                {
                    _logger.LogWarning("{Store} is unreachable ({Error}); answering from caches, trying again in {Seconds:0} s",
                        Inner.Name, args.Outcome.Exception?.Message, args.BreakDuration.TotalSeconds);
                    return ValueTask.CompletedTask;
                },
                OnClosed = _ =>
                {
                    _logger.LogInformation("{Store} answers again", Inner.Name);
                    return ValueTask.CompletedTask;
                },
            });
        }
        _pipeline = builder.Build();
    }

    private async ValueTask<T> Run<T>(Func<CancellationToken, Task<T>> call, CancellationToken ct)
    {
        try
        {
            return await _pipeline.ExecuteAsync(static async (c, token) => await c(token).ConfigureAwait(false), call, ct).ConfigureAwait(false);
        }
        catch (BrokenCircuitException e)
        {
            throw new StoreUnavailableException(Inner.Name, e);
        }
    }

    /// <inheritdoc/>
    /// <remarks>Starting, each part and completing are retried like any request.</remarks>
    public override IMultipartUploads? Multipart => Inner.Multipart is { } m
        ? new WrappedMultipart(m, (_, call, ct) => Run(call, ct).AsTask())
        : null;

    /// <inheritdoc/>
    public override Task<ListPage> ListAsync(ListRequest request, CancellationToken cancellationToken) =>
        Run(ct => Inner.ListAsync(request, ct), cancellationToken).AsTask();

    /// <inheritdoc/>
    public override Task<ObjectInfo?> HeadAsync(string key, CancellationToken cancellationToken) =>
        Run(ct => Inner.HeadAsync(key, ct), cancellationToken).AsTask();

    /// <inheritdoc/>
    public override async Task<ObjectReadResult> ReadAsync(string key, ByteRange range, string? ifMatch, CancellationToken cancellationToken)
    {
        var first = await Run(ct => Inner.ReadAsync(key, range, ifMatch, ct), cancellationToken).ConfigureAwait(false);
        string? pin = ifMatch ?? first.Info.ETag;
        if (_policy.MaxAttempts <= 1 || pin is null || !Capabilities.ConditionalReads || first.Range.Length is not > 0)
        {
            return first;
        }
        return first with { Content = new ResumingReadStream(this, key, first, pin) };
    }

    /// <inheritdoc/>
    public override Task<ObjectInfo> WriteAsync(string key, ObjectContent content, ObjectWriteOptions options, CancellationToken cancellationToken) =>
        Run(ct => Inner.WriteAsync(key, content, options, ct), cancellationToken).AsTask();

    /// <inheritdoc/>
    public override Task DeleteAsync(string key, CancellationToken cancellationToken) =>
        Run(async ct => { await Inner.DeleteAsync(key, ct).ConfigureAwait(false); return true; }, cancellationToken).AsTask();

    /// <inheritdoc/>
    public override Task<ObjectInfo> CopyAsync(string sourceKey, string destinationKey, CancellationToken cancellationToken) =>
        Run(ct => Inner.CopyAsync(sourceKey, destinationKey, ct), cancellationToken).AsTask();

    /// <inheritdoc/>
    public override Task<ObjectInfo> UpdateMetadataAsync(string key, ObjectWriteOptions options, string? ifMatch, CancellationToken cancellationToken) =>
        Run(ct => Inner.UpdateMetadataAsync(key, options, ifMatch, ct), cancellationToken).AsTask();

    /// <summary>Continues a broken body from where it stopped, with If-Match on the first answer's ETag.</summary>
    private sealed class ResumingReadStream(RetryingObjectStore owner, string key, ObjectReadResult first, string etag) : ReadOnlyStreamBase
    {
        private readonly long _end = first.Range.Offset + first.Range.Length!.Value;
        private long _position = first.Range.Offset;
        private Stream _current = first.Content;
        private int _failures;

        protected override async ValueTask<int> ReadCoreAsync(Memory<byte> buffer, CancellationToken cancellationToken)
        {
            while (true)
            {
                try
                {
                    int n = await _current.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
                    if (n == 0 && buffer.Length > 0 && _position < _end)
                    {
                        throw new IOException($"body of {key} ended at byte {_position} of {_end}");
                    }
                    _position += n;
                    if (n > 0) _failures = 0;
                    return n;
                }
                catch (Exception e) when (RetryPolicy.IsTransient(e, cancellationToken) && _failures + 1 < owner._policy.MaxAttempts)
                {
                    var delay = owner._policy.DelayBefore(_failures++);
                    owner._stats?.AddRetry();
                    owner._logger.LogWarning("{Store}: resuming {Key} at byte {Position} in {Delay:0.0} s after: {Error}",
                        owner.Inner.Name, key, _position, delay.TotalSeconds, e.Message);
                    await _current.DisposeAsync().ConfigureAwait(false);
                    _current = Stream.Null;
                    await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                }
                // The rest of the body, as a request of its own: retried and counted by the breaker like any other.
                long from = _position;
                var next = await owner.Run(ct => owner.Inner.ReadAsync(key, new ByteRange(from, _end - from), etag, ct), cancellationToken).ConfigureAwait(false);
                _current = next.Content;
            }
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) _current.Dispose();
            base.Dispose(disposing);
        }

        public override async ValueTask DisposeAsync()
        {
            await _current.DisposeAsync().ConfigureAwait(false);
            await base.DisposeAsync().ConfigureAwait(false);
        }
    }
}
