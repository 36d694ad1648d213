using CloudMount.Core;
using CloudMount.Core.Storage;
using CloudMount.Core.Storage.Decorators;

namespace CloudMount.Tests.Support;

/// <summary>When an injected failure strikes: before the call reaches the store, or after the store did it (the answer is lost).</summary>
public enum FaultTiming { Before, After }

/// <summary>
/// A rule of <see cref="FaultyObjectStore"/>: fail the <see cref="Nth"/> call of <see cref="Kind"/> (1-based, counted from
/// when the rule was set), or every call of that kind on <see cref="Key"/>.
/// </summary>
/// <param name="Kind">One of <see cref="FaultyObjectStore.Kinds"/>.</param>
/// <param name="Nth">Which call of the kind fails (null: every call matching <paramref name="Key"/>).</param>
/// <param name="Key">Only calls on this key (null: any key).</param>
/// <param name="Timing">Before the call, or after it succeeded in the store.</param>
public sealed record FaultRule(string Kind, int? Nth = null, string? Key = null, FaultTiming Timing = FaultTiming.Before)
{
    public override string ToString() => $"{Kind}{(Nth is { } n ? $" #{n}" : "")}{(Key is null ? "" : $" on {Key}")} ({Timing.ToString().ToLowerInvariant()})";
}

/// <summary>One call that reached the decorator.</summary>
/// <param name="Kind">One of <see cref="FaultyObjectStore.Kinds"/>.</param>
/// <param name="Key">The key (a list's prefix; a copy's destination).</param>
/// <param name="Detail">The part number, a copy's source, ...</param>
/// <param name="Failed">Whether an injected failure struck it.</param>
public sealed record StoreCall(string Kind, string Key, string Detail, bool Failed);

/// <summary>
/// Injects failures into a store (mountpoint-s3's failure_client idea). Any call can fail: list, head, get, put,
/// delete, copy, meta (metadata update), mpu-start, mpu-part, mpu-complete (mpu-abort is recorded, never failed, as
/// the interface promises it never throws) — by a hook (<see cref="Fail"/>), by rules (the Nth call of a kind, or by
/// key, before or after the store did the work), and read bodies can be cut after a number of bytes. Every call is
/// logged, and <see cref="Mutated"/> reports each change the store made, so a test can check every state the store
/// went through. <see cref="MaxUploadBytes"/> is a guard against a test uploading terabytes by mistake.
/// </summary>
public sealed class FaultyObjectStore(IObjectStore inner) : DelegatingObjectStore(inner)
{
    /// <summary>The call kinds, as <see cref="FaultRule.Kind"/> and <see cref="StoreCall.Kind"/> name them.</summary>
    public static readonly string[] Kinds = ["list", "head", "get", "put", "delete", "copy", "meta", "mpu-start", "mpu-part", "mpu-complete"];

    private readonly Lock _lock = new();
    private readonly List<StoreCall> _calls = [];
    private readonly Dictionary<string, int> _counts = [];
    private readonly List<FaultRule> _rules = [];

    /// <summary>Called before each operation with its kind and key; return an exception to fail it.</summary>
    public Func<string, string, Exception?> Fail { get; set; } = (_, _) => null;

    /// <summary>Awaited before each call (kind, key): a test holds a call here to order it against another operation.</summary>
    public Func<string, string, Task>? Hold { get; set; }

    /// <summary>When set, read bodies throw an IOException after this many bytes (once per read).</summary>
    public long? CutBodiesAfter { get; set; }

    /// <summary>Uploads (a put, or the parts of one multipart upload together) larger than this fail with a test-guard error.</summary>
    public long MaxUploadBytes { get; set; } = 512L << 20;

    /// <summary>Called after each successful change of a key (put, copy, meta, mpu-complete, delete), with the kind and key.</summary>
    public Action<string, string>? Mutated { get; set; }

    /// <summary>The exception an injected failure throws (default: a store error, which the Vfs maps to EIO).</summary>
    public Func<StoreCall, Exception> MakeFailure { get; set; } = c => new ObjectStoreException($"injected failure of {c.Kind} {c.Key} {c.Detail}".TrimEnd());

    /// <summary>Every call so far.</summary>
    public List<StoreCall> Calls
    {
        get { lock (_lock) return [.. _calls]; }
    }

    /// <summary>Calls of each kind so far.</summary>
    public Dictionary<string, int> Counts
    {
        get { lock (_lock) return new(_counts); }
    }

    /// <summary>Adds a rule; counting of <see cref="FaultRule.Nth"/> starts now.</summary>
    public void Inject(FaultRule rule)
    {
        lock (_lock) _rules.Add(rule with { Nth = rule.Nth is { } n ? n + _counts.GetValueOrDefault(rule.Kind) : null });
    }

    /// <summary>Drops every rule and the hook.</summary>
    public void Heal()
    {
        lock (_lock) _rules.Clear();
        Fail = (_, _) => null;
    }

    /// <summary>Records a call and decides whether it fails, and when.</summary>
    private FaultTiming? Enter(string kind, string key, string detail = "", string? hookKey = null)
    {
        FaultTiming? timing = null;
        Exception? hooked = kind is "mpu-abort" ? null : Fail(kind, hookKey ?? key);
        lock (_lock)
        {
            int n = _counts[kind] = _counts.GetValueOrDefault(kind) + 1;
            foreach (var r in _rules)
            {
                if (r.Kind == kind && (r.Key is null || r.Key == key) && (r.Nth is null || r.Nth == n))
                {
                    timing = r.Timing;
                    break;
                }
            }
            _calls.Add(new StoreCall(kind, key, detail, hooked is not null || timing is not null));
        }
        if (hooked is not null) throw hooked;
        if (timing == FaultTiming.Before) throw MakeFailure(new StoreCall(kind, key, detail, true));
        return timing;
    }

    private async Task<T> Call<T>(string kind, string key, string detail, Func<Task<T>> body, bool mutates, string? hookKey = null)
    {
        if (Hold is { } hold) await hold(kind, key);
        var timing = Enter(kind, key, detail, hookKey);
        var result = await body();
        if (mutates) Mutated?.Invoke(kind, key);
        if (timing == FaultTiming.After) throw MakeFailure(new StoreCall(kind, key, detail, true));
        return result;
    }

    private Task Call(string kind, string key, string detail, Func<Task> body, bool mutates) =>
        Call<object?>(kind, key, detail, async () => { await body(); return null; }, mutates);

    public override IMultipartUploads? Multipart => Inner.Multipart is { } m ? new Uploads(this, m) : null;

    public override Task<ListPage> ListAsync(ListRequest request, CancellationToken cancellationToken) =>
        Call("list", request.Prefix, request.Delimiter ?? "", () => base.ListAsync(request, cancellationToken), false);

    public override Task<ObjectInfo?> HeadAsync(string key, CancellationToken cancellationToken) =>
        Call("head", key, "", () => base.HeadAsync(key, cancellationToken), false);

    public override Task<ObjectReadResult> ReadAsync(string key, ByteRange range, string? ifMatch, CancellationToken cancellationToken) =>
        Call("get", key, range.ToString() ?? "", async () =>
        {
            var r = await base.ReadAsync(key, range, ifMatch, cancellationToken);
            return CutBodiesAfter is { } n ? r with { Content = new CuttingStream(r.Content, n) } : r;
        }, false);

    public override Task<ObjectInfo> WriteAsync(string key, ObjectContent content, ObjectWriteOptions options, CancellationToken cancellationToken)
    {
        if (content.Length > MaxUploadBytes) throw new ObjectStoreException($"test guard: refusing to upload {content.Length} bytes to {key}");
        return Call("put", key, content.Length.ToString(), () => base.WriteAsync(key, content, options, cancellationToken), true);
    }

    public override Task DeleteAsync(string key, CancellationToken cancellationToken) =>
        Call("delete", key, "", () => base.DeleteAsync(key, cancellationToken), true);

    public override Task<ObjectInfo> CopyAsync(string sourceKey, string destinationKey, CancellationToken cancellationToken)
    {
        // The hook names a copy by its source (as it always did); rules and the log by its destination (the key it changes).
        return Call("copy", destinationKey, "from " + sourceKey, () => base.CopyAsync(sourceKey, destinationKey, cancellationToken), true, hookKey: sourceKey);
    }

    public override Task<ObjectInfo> UpdateMetadataAsync(string key, ObjectWriteOptions options, string? ifMatch, CancellationToken cancellationToken) =>
        Call("meta", key, "", () => base.UpdateMetadataAsync(key, options, ifMatch, cancellationToken), true);

    private sealed class Uploads(FaultyObjectStore outer, IMultipartUploads inner) : IMultipartUploads
    {
        public long MinPartBytes => inner.MinPartBytes;

        public int MaxParts => inner.MaxParts;

        public async Task<IMultipartUpload> StartAsync(string key, ObjectWriteOptions options, CancellationToken cancellationToken) =>
            new Upload(outer, await outer.Call("mpu-start", key, "", () => inner.StartAsync(key, options, cancellationToken), false));
    }

    private sealed class Upload(FaultyObjectStore outer, IMultipartUpload inner) : IMultipartUpload
    {
        private readonly System.Collections.Concurrent.ConcurrentDictionary<int, long> _sizes = new();

        public string Key => inner.Key;

        public Task UploadPartAsync(int partNumber, ObjectContent content, CancellationToken cancellationToken)
        {
            _sizes[partNumber] = content.Length;
            if (_sizes.Values.Sum() > outer.MaxUploadBytes) throw new ObjectStoreException($"test guard: refusing to upload more than {outer.MaxUploadBytes} bytes to {Key}");
            return outer.Call("mpu-part", Key, partNumber.ToString(), () => inner.UploadPartAsync(partNumber, content, cancellationToken), false);
        }

        public Task<ObjectInfo> CompleteAsync(int parts, long totalBytes, CancellationToken cancellationToken) =>
            outer.Call("mpu-complete", Key, $"{parts} parts", () => inner.CompleteAsync(parts, totalBytes, cancellationToken), true);

        public Task AbortAsync(CancellationToken cancellationToken)
        {
            outer.Enter("mpu-abort", Key);
            return inner.AbortAsync(cancellationToken);
        }
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
