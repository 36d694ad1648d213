using System.Diagnostics;
using System.Net;

namespace CloudMount.Core.Storage;

/// <summary>
/// Fails a request whose server goes silent: no first byte of the answer within <see cref="HttpTimeouts.FirstByte"/>
/// of the request being sent, or a body that moves no byte for <see cref="HttpTimeouts.Idle"/> while we wait on it
/// (writing a request body or reading an answer; a reader that pauses is not a stall). Before the answer's headers the
/// request is cancelled and fails with a <see cref="TaskCanceledException"/> over a <see cref="TimeoutException"/> (as
/// HttpClient reports its own timeout);
/// inside an answer's body the connection is closed and the read fails with an <see cref="IOException"/> over a
/// <see cref="TimeoutException"/>. Both are transient, and the backends report them as
/// <see cref="ConnectionFailedException"/>, which counts towards offline mode.
/// </summary>
internal sealed class StallGuardHandler(HttpMessageHandler inner, HttpTimeouts timeouts) : DelegatingHandler(inner)
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var watch = new Watch(timeouts, request.RequestUri, cancellationToken);
        if (request.Content is { } content)
        {
            request.Content = new WatchedRequestContent(content, watch);
        }
        else
        {
            watch.RequestSent();
        }
        HttpResponseMessage response;
        try
        {
            response = await base.SendAsync(request, watch.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (watch.Fired && !cancellationToken.IsCancellationRequested)
        {
            watch.Dispose();
            // As HttpClient reports its own Timeout: callers (and the SDKs, which would otherwise send again) take it as a timeout.
            throw new TaskCanceledException(watch.Reason, new TimeoutException(watch.Reason, e));
        }
        catch
        {
            watch.Dispose();
            throw;
        }
        watch.HeadersReceived();
        response.Content = new WatchedResponseContent(response.Content, watch);
        return response;
    }

    /// <summary>
    /// The deadline of one request. Fields are written by the request's own calls and read by its timer; the deadline is
    /// a Stopwatch timestamp (<see cref="long.MaxValue"/>: none), published with <see cref="Volatile"/>.
    /// </summary>
    internal sealed class Watch : IDisposable
    {
        private readonly HttpTimeouts _timeouts;
        private readonly string _server;
        private readonly CancellationTokenSource _cts;
        private readonly Timer _timer;
        private long _deadline;
        private volatile string _waitingFor = "connect and send the request";
        private volatile string _limit = "";
        private volatile bool _inBody;
        private volatile Action? _abortBody;
        private int _fired;
        private int _disposed;

        public Watch(HttpTimeouts timeouts, Uri? uri, CancellationToken caller)
        {
            _timeouts = timeouts;
            _server = uri?.GetLeftPart(UriPartial.Authority) ?? "the server";
            _cts = CancellationTokenSource.CreateLinkedTokenSource(caller);
            Arm(timeouts.FirstByte, "--timeout", "connect and send the request");
            var tick = TimeSpan.FromMilliseconds(Math.Clamp(Math.Min(timeouts.FirstByte.TotalMilliseconds, timeouts.Idle.TotalMilliseconds) / 8, 50, 2000));
            _timer = new Timer(static s => ((Watch)s!).Check(), this, tick, tick);
        }

        public CancellationToken Token => _cts.Token;

        public bool Fired => Volatile.Read(ref _fired) != 0;

        /// <summary>What the server did not do in time, for the error message.</summary>
        public string Reason { get; private set; } = "";

        private void Arm(TimeSpan within, string option, string waitingFor)
        {
            _waitingFor = waitingFor;
            _limit = $"{within.TotalSeconds:0.#} s ({option})";
            Volatile.Write(ref _deadline, Stopwatch.GetTimestamp() + (long)(within.TotalSeconds * Stopwatch.Frequency));
        }

        private void Disarm() => Volatile.Write(ref _deadline, long.MaxValue);

        /// <summary>A body write starts or ends: the server must take bytes within the idle timeout.</summary>
        public void Writing() => Arm(_timeouts.Idle, "--idle-timeout", "take the request body");

        /// <summary>The whole request is out: the answer must start within the first-byte timeout.</summary>
        public void RequestSent() => Arm(_timeouts.FirstByte, "--timeout", "answer");

        /// <summary>The answer's headers arrived: from now on only reads that wait on the server are timed.</summary>
        public void HeadersReceived()
        {
            _inBody = true;
            Disarm();
        }

        /// <summary>A body read waits on the server (<paramref name="abort"/> closes the connection if it stalls).</summary>
        public void ReadStarted(Action abort)
        {
            _abortBody = abort;
            Arm(_timeouts.Idle, "--idle-timeout", "send more of the answer");
        }

        /// <summary>The read returned: a reader that pauses is not a stalled server.</summary>
        public void ReadDone() => Disarm();

        private void Check()
        {
            if (Stopwatch.GetTimestamp() < Volatile.Read(ref _deadline) || Interlocked.Exchange(ref _fired, 1) != 0) return;
            Reason = $"{_server} did not {_waitingFor} within {_limit}";
            _timer.Dispose();
            try
            {
                if (_inBody) _abortBody?.Invoke();
                else _cts.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // Finished meanwhile.
            }
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
            _timer.Dispose();
            _cts.Dispose();
        }
    }

    /// <summary>The request body, written through a stream that tells the watch of every write.</summary>
    private sealed class WatchedRequestContent : HttpContent
    {
        private readonly HttpContent _inner;
        private readonly Watch _watch;

        public WatchedRequestContent(HttpContent inner, Watch watch)
        {
            _inner = inner;
            _watch = watch;
            foreach (var h in inner.Headers) Headers.TryAddWithoutValidation(h.Key, h.Value);
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            _watch.Writing();
            await _inner.CopyToAsync(new WriteWatchStream(stream, _watch), context, cancellationToken).ConfigureAwait(false);
            _watch.RequestSent();
        }

        protected override bool TryComputeLength(out long length)
        {
            length = _inner.Headers.ContentLength ?? -1;
            return length >= 0;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) _inner.Dispose();
            base.Dispose(disposing);
        }
    }

    private sealed class WriteWatchStream(Stream inner, Watch watch) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count)
        {
            watch.Writing();
            inner.Write(buffer, offset, count);
            watch.Writing();
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            watch.Writing();
            await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
            watch.Writing();
        }
    }

    /// <summary>The answer's body, read through a stream that the watch can close when the server stalls.</summary>
    private sealed class WatchedResponseContent : HttpContent
    {
        private readonly HttpContent _inner;
        private readonly Watch _watch;

        public WatchedResponseContent(HttpContent inner, Watch watch)
        {
            _inner = inner;
            _watch = watch;
            foreach (var h in inner.Headers) Headers.TryAddWithoutValidation(h.Key, h.Value);
        }

        protected override async Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken) =>
            new ReadWatchStream(await _inner.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), _watch);

        protected override Task<Stream> CreateContentReadStreamAsync() => CreateContentReadStreamAsync(CancellationToken.None);

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            await using var body = await CreateContentReadStreamAsync(cancellationToken).ConfigureAwait(false);
            await body.CopyToAsync(stream, cancellationToken).ConfigureAwait(false);
        }

        protected override bool TryComputeLength(out long length)
        {
            length = _inner.Headers.ContentLength ?? -1;
            return length >= 0;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _inner.Dispose();
                _watch.Dispose();
            }
            base.Dispose(disposing);
        }
    }

    private sealed class ReadWatchStream(Stream inner, Watch watch) : ReadOnlyStreamBase
    {
        protected override async ValueTask<int> ReadCoreAsync(Memory<byte> buffer, CancellationToken cancellationToken)
        {
            watch.ReadStarted(inner.Dispose);
            try
            {
                return await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (watch.Fired && e is not OperationCanceledException { CancellationToken.IsCancellationRequested: true })
            {
                throw new IOException(watch.Reason, new TimeoutException(watch.Reason, e));
            }
            finally
            {
                watch.ReadDone();
            }
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
                watch.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
