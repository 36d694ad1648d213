using CloudMount.Core;
using CloudMount.Core.Storage;
using CloudMount.Core.Storage.Decorators;

namespace CloudMount.Tests.Support;

/// <summary>
/// Injects failures into a store (mountpoint-s3's failure_client idea): a hook decides, per operation and key,
/// whether to throw; read bodies can be cut after a number of bytes.
/// </summary>
public sealed class FaultyObjectStore(IObjectStore inner) : DelegatingObjectStore(inner)
{
    /// <summary>Called before each operation ("list", "head", "get", "put", "delete", "copy") with the key; return an exception to fail it.</summary>
    public Func<string, string, Exception?> Fail { get; set; } = (_, _) => null;

    /// <summary>When set, read bodies throw an IOException after this many bytes (once per read).</summary>
    public long? CutBodiesAfter { get; set; }

    private void Check(string op, string key)
    {
        if (Fail(op, key) is { } e) throw e;
    }

    public override Task<ListPage> ListAsync(ListRequest request, CancellationToken cancellationToken)
    {
        Check("list", request.Prefix);
        return base.ListAsync(request, cancellationToken);
    }

    public override Task<ObjectInfo?> HeadAsync(string key, CancellationToken cancellationToken)
    {
        Check("head", key);
        return base.HeadAsync(key, cancellationToken);
    }

    public override async Task<ObjectReadResult> ReadAsync(string key, ByteRange range, string? ifMatch, CancellationToken cancellationToken)
    {
        Check("get", key);
        var r = await base.ReadAsync(key, range, ifMatch, cancellationToken);
        return CutBodiesAfter is { } n ? r with { Content = new CuttingStream(r.Content, n) } : r;
    }

    public override Task<ObjectInfo> WriteAsync(string key, ObjectContent content, ObjectWriteOptions options, CancellationToken cancellationToken)
    {
        Check("put", key);
        return base.WriteAsync(key, content, options, cancellationToken);
    }

    public override Task DeleteAsync(string key, CancellationToken cancellationToken)
    {
        Check("delete", key);
        return base.DeleteAsync(key, cancellationToken);
    }

    public override Task<ObjectInfo> CopyAsync(string sourceKey, string destinationKey, CancellationToken cancellationToken)
    {
        Check("copy", sourceKey);
        return base.CopyAsync(sourceKey, destinationKey, cancellationToken);
    }

    private sealed class CuttingStream(Stream inner, long limit) : ReadOnlyStreamBase
    {
        private long _read;

        protected override async ValueTask<int> ReadCoreAsync(Memory<byte> buffer, CancellationToken cancellationToken)
        {
            if (_read >= limit) throw new IOException("connection reset by test");
            int n = await inner.ReadAsync(buffer[..(int)Math.Min(buffer.Length, limit - _read)], cancellationToken);
            _read += n;
            return n;
        }
    }
}

/// <summary>A clock the test moves by hand.</summary>
public sealed class ManualClock : TimeProvider
{
    private long _ticks;
    private DateTimeOffset _now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;
    public override long GetTimestamp() => Interlocked.Read(ref _ticks);
    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by)
    {
        Interlocked.Add(ref _ticks, by.Ticks);
        _now += by;
    }
}
