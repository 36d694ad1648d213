using System.Text;
using CloudMount.Core.Diagnostics;

namespace CloudMount.Core.Storage.Decorators;

/// <summary>The kinds of request a store makes, named as the services bill them.</summary>
public enum RequestKind
{
    /// <summary>A prefix listing page.</summary>
    List,
    /// <summary>A metadata read of one object.</summary>
    Head,
    /// <summary>A (range) read of an object's bytes.</summary>
    Get,
    /// <summary>A write of a whole object (a multipart upload counts once).</summary>
    Put,
    /// <summary>A delete.</summary>
    Delete,
    /// <summary>A server-side copy.</summary>
    Copy,
}

/// <summary>
/// Thread-safe counters of requests by kind, bytes moved and retries. One instance per mount; the mount
/// logs <see cref="ToString"/> at exit. Counts are store operations, retries included.
/// </summary>
public sealed class RequestStats
{
    private readonly long[] _requests = new long[Enum.GetValues<RequestKind>().Length];
    private readonly long[] _failures = new long[Enum.GetValues<RequestKind>().Length];
    private long _bytesDown;
    private long _bytesUp;
    private long _retries;

    /// <summary>Requests of a kind so far.</summary>
    public long this[RequestKind kind] => Interlocked.Read(ref _requests[(int)kind]);

    /// <summary>Requests of a kind that failed.</summary>
    public long Failures(RequestKind kind) => Interlocked.Read(ref _failures[(int)kind]);

    /// <summary>All requests so far.</summary>
    public long Total => _requests.Sum(v => Interlocked.Read(ref v));

    /// <summary>Bytes received in object bodies.</summary>
    public long BytesDownloaded => Interlocked.Read(ref _bytesDown);

    /// <summary>Bytes sent in object bodies.</summary>
    public long BytesUploaded => Interlocked.Read(ref _bytesUp);

    /// <summary>Requests repeated after a transient failure.</summary>
    public long Retries => Interlocked.Read(ref _retries);

    private static readonly string[] KindTags = Enum.GetNames<RequestKind>().Select(n => n.ToLowerInvariant()).ToArray();

    /// <summary>Counts one finished request and its duration (also in <see cref="CloudMountMetrics"/>).</summary>
    public void AddRequest(RequestKind kind, bool ok, TimeSpan duration)
    {
        Interlocked.Increment(ref _requests[(int)kind]);
        if (!ok) Interlocked.Increment(ref _failures[(int)kind]);
        var kindTag = new KeyValuePair<string, object?>("kind", KindTags[(int)kind]);
        CloudMountMetrics.Requests.Add(1, kindTag, new KeyValuePair<string, object?>("outcome", ok ? "ok" : "error"));
        CloudMountMetrics.RequestDuration.Record(duration.TotalSeconds, kindTag);
    }

    /// <summary>Adds downloaded body bytes.</summary>
    public void AddDownloaded(long bytes)
    {
        Interlocked.Add(ref _bytesDown, bytes);
        CloudMountMetrics.Bytes.Add(bytes, new KeyValuePair<string, object?>("direction", "down"));
    }

    /// <summary>Adds uploaded body bytes.</summary>
    public void AddUploaded(long bytes)
    {
        Interlocked.Add(ref _bytesUp, bytes);
        CloudMountMetrics.Bytes.Add(bytes, new KeyValuePair<string, object?>("direction", "up"));
    }

    /// <summary>Counts one retry.</summary>
    public void AddRetry()
    {
        Interlocked.Increment(ref _retries);
        CloudMountMetrics.Retries.Add(1);
    }

    /// <summary>One line: <c>requests: LIST 21, HEAD 0, GET 2000, PUT 0, DELETE 0, COPY 0; downloaded 2.0 MiB, uploaded 0 B; retries 0</c>.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder("requests: ");
        foreach (var kind in Enum.GetValues<RequestKind>())
        {
            if (kind != RequestKind.List) sb.Append(", ");
            sb.Append(kind.ToString().ToUpperInvariant()).Append(' ').Append(this[kind]);
        }
        sb.Append("; downloaded ").Append(Bytes.Format(BytesDownloaded))
          .Append(", uploaded ").Append(Bytes.Format(BytesUploaded))
          .Append("; retries ").Append(Retries);
        return sb.ToString();
    }
}
