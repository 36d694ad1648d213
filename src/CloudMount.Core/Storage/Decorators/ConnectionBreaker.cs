using Microsoft.Extensions.Logging;

namespace CloudMount.Core.Storage.Decorators;

/// <summary>
/// The circuit breaker on connection failures: after <see cref="RetryPolicy.BreakerMinimumFailures"/> requests in a
/// row end in <see cref="ConnectionFailedException"/> (refused or reset connections, a server silent past the
/// timeouts) with no answer from the store between them, requests fail at once with
/// <see cref="StoreUnavailableException"/> for <see cref="RetryPolicy.BreakDuration"/>; then one request is let
/// through to probe: an answer closes the breaker, another connection failure opens it again.
/// </summary>
/// <remarks>
/// Failures are counted in a row rather than as a ratio in a time window (Polly's advanced breaker): a timed-out
/// attempt lasts one timeout or, when a client sends it once more, several, so a window short enough to forget the
/// successes from before a stall could hold only one failure, and the breaker never opened (a mount that waited
/// seven timeouts per request while the server was silent). Any answer of the store, an error status included,
/// breaks the row; a request its caller cancelled counts for neither side.
/// </remarks>
public sealed class ConnectionBreaker
{
    private readonly int _threshold;
    private readonly TimeSpan _breakDuration;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly string _store;
    private readonly Lock _lock = new();

    /// <summary>Connection failures since the store last answered. Guarded by <see cref="_lock"/>.</summary>
    private int _failuresInARow;

    /// <summary>True while requests fail fast (open or half-open). Guarded by <see cref="_lock"/>.</summary>
    private bool _open;

    /// <summary>When an open breaker lets a probe through (<see cref="TimeProvider.GetTimestamp"/>). Guarded by <see cref="_lock"/>.</summary>
    private long _probeAt;

    /// <summary>True while the one probe of a half-open breaker is in flight. Guarded by <see cref="_lock"/>.</summary>
    private bool _probing;

    /// <summary>A breaker for <paramref name="store"/> (its name, for the log).</summary>
    /// <param name="threshold">Connection failures in a row that open it; at least 1.</param>
    /// <param name="breakDuration">How long it fails fast before a probe.</param>
    /// <param name="store">The store's name in log lines.</param>
    /// <param name="logger">Receives a warning when the store becomes unreachable and a line when it answers again.</param>
    /// <param name="time">The clock; <see cref="TimeProvider.System"/> when null.</param>
    public ConnectionBreaker(int threshold, TimeSpan breakDuration, string store, ILogger logger, TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threshold, 1);
        _threshold = threshold;
        _breakDuration = breakDuration;
        _store = store;
        _logger = logger;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>True while requests fail fast.</summary>
    public bool IsOpen
    {
        get { lock (_lock) return _open; }
    }

    /// <summary>
    /// Runs <paramref name="call"/> unless the breaker is open, and records how it ended.
    /// </summary>
    /// <exception cref="StoreUnavailableException">The breaker is open (or its probe is in flight); the call was not made.</exception>
    public async Task<T> RunAsync<T>(Func<CancellationToken, Task<T>> call, CancellationToken cancellationToken)
    {
        bool probe = Admit();
        try
        {
            T result = await call(cancellationToken).ConfigureAwait(false);
            Answered(probe);
            return result;
        }
        catch (ConnectionFailedException e)
        {
            Failed(probe, e);
            throw;
        }
        catch (ObjectStoreException) when (!cancellationToken.IsCancellationRequested)
        {
            Answered(probe); // the server answered, with an error
            throw;
        }
        catch
        {
            Released(probe);
            throw;
        }
    }

    /// <summary>Lets a request through, or throws when the breaker is open; true when the request is the probe.</summary>
    private bool Admit()
    {
        lock (_lock)
        {
            if (!_open) return false;
            if (_probing || _time.GetTimestamp() < _probeAt) throw new StoreUnavailableException(_store);
            _probing = true;
            return true;
        }
    }

    private void Answered(bool probe)
    {
        bool closed;
        lock (_lock)
        {
            _failuresInARow = 0;
            closed = _open;
            _open = false;
            if (probe) _probing = false;
        }
        if (closed) _logger.LogInformation("{Store} answers again", _store);
    }

    private void Failed(bool probe, ConnectionFailedException e)
    {
        bool opened;
        lock (_lock)
        {
            _failuresInARow++;
            if (probe) _probing = false;
            opened = !_open && _failuresInARow >= _threshold;
            if (opened || probe)
            {
                _open = true;
                _probeAt = _time.GetTimestamp() + (long)(_breakDuration.TotalSeconds * _time.TimestampFrequency);
            }
        }
        if (opened)
        {
            _logger.LogWarning("{Store} is unreachable ({Error}); answering from caches, trying again every {Seconds:0} s",
                _store, e.Message, _breakDuration.TotalSeconds);
        }
    }

    private void Released(bool probe)
    {
        if (!probe) return;
        lock (_lock) _probing = false;
    }
}
