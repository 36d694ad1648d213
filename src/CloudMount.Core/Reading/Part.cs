namespace CloudMount.Core.Reading;

/// <summary>
/// A run of whole, aligned cache blocks of one object version being filled (from the caches or one range request)
/// into one pooled buffer, shared by every reader of that version through its <see cref="BlockTable"/>.
/// </summary>
/// <remarks>
/// <para>Two kinds of holders, both counted under the owning table's lock:</para>
/// <list type="bullet">
/// <item><em>Interest</em>: a stream's read-ahead window or a reader's lease wants these bytes. While any interest
/// is left the fill is never cancelled; when the last is dropped before the fill ends, the fill is cancelled (no
/// one wants the rest) and the part leaves the table so that a later reader starts a fresh one (except a
/// <see cref="KeepFilling"/> part, which ends its fill).</item>
/// <item><em>Pins</em>: the fill itself, and the disk-cache writer until the bytes are on disk. They keep the buffer
/// but not the fill.</item>
/// </list>
/// <para>The buffer goes back to the pool when both counts are zero, which is also when the part leaves the
/// table (a complete part stays findable while the cache writer still pins it). Fill progress
/// (<see cref="Filled"/>, completion, failure) is guarded by <c>_sync</c>.</para>
/// </remarks>
internal sealed class Part
{
    private readonly Lock _sync = new();
    private readonly BufferPool _pool;
    private TaskCompletionSource _progress = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Exception? _error;   // protected by _sync
    private bool _complete;      // protected by _sync
    private int _filled;         // protected by _sync (read without it through Volatile)
    private readonly TaskCompletionSource _fetched = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // ---- protected by the owning BlockTable's lock ----
    /// <summary>Streams and leases that want the bytes.</summary>
    public int Interest;
    /// <summary>The fill and the cache writer.</summary>
    public int Pins;
    /// <summary>Still the table's entry for its blocks.</summary>
    public bool Mapped;
    /// <summary>The buffer went back to the pool.</summary>
    public bool Dead;
    /// <summary>
    /// Read-ahead of a dense random reader (<see cref="BlockTable.AcquireRandomAheadLocked"/>), or the blocks of a
    /// random read of a version with caches: its fill is not cancelled when the interest count reaches zero, and it
    /// stays findable until the fill ends (its bytes go into the caches).
    /// </summary>
    public bool KeepFilling;

    public Part(long start, long length, ArraySegment<byte> buffer, BufferPool pool, bool random, bool demand)
    {
        Start = start;
        Length = length;
        Buffer = buffer;
        _pool = pool;
        Random = random;
        Demand = demand;
    }

    /// <summary>First byte of the object this part holds (a multiple of the cache block size).</summary>
    public long Start { get; }

    /// <summary>Bytes the part holds.</summary>
    public long Length { get; }

    /// <summary>One past the last byte.</summary>
    public long End => Start + Length;

    /// <summary>The pooled buffer, <see cref="Length"/> bytes.</summary>
    public ArraySegment<byte> Buffer { get; }

    /// <summary>Made for a random read: its blocks are worth keeping in the memory cache.</summary>
    public bool Random { get; }

    /// <summary>Made for bytes a reader was waiting on (not read-ahead): it does not queue for a read-ahead slot.</summary>
    public bool Demand { get; }

    /// <summary>Cancels the fill; fired only when no interest is left.</summary>
    public CancellationTokenSource Cancellation { get; } = new();

    /// <summary>Completes when the fill no longer touches the buffer.</summary>
    public Task Fetched => _fetched.Task;

    /// <summary>Bytes filled from the start.</summary>
    public int Filled => Volatile.Read(ref _filled);

    /// <summary>True when the fill failed.</summary>
    public bool IsFaulted
    {
        get { lock (_sync) return _error is not null; }
    }

    /// <summary>True when every byte is in.</summary>
    public bool IsComplete
    {
        get { lock (_sync) return _complete; }
    }

    /// <summary>Records <paramref name="n"/> more bytes filled and wakes waiting readers.</summary>
    public void Advance(int n)
    {
        TaskCompletionSource done;
        lock (_sync)
        {
            _filled += n;
            done = _progress;
            _progress = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        done.TrySetResult();
    }

    /// <summary>Marks the part complete.</summary>
    public void Complete()
    {
        TaskCompletionSource done;
        lock (_sync)
        {
            _complete = true;
            done = _progress;
        }
        done.TrySetResult();
    }

    /// <summary>Marks the fill failed: waiting and later readers of missing bytes get <paramref name="e"/>.</summary>
    public void Fail(Exception e)
    {
        TaskCompletionSource done;
        lock (_sync)
        {
            _error ??= e;
            done = _progress;
        }
        done.TrySetResult();
    }

    /// <summary>Called once by the fill when it no longer touches the buffer.</summary>
    public void FetchEnded() => _fetched.TrySetResult();

    /// <summary>Waits until the bytes before <paramref name="absoluteEnd"/> are in.</summary>
    /// <exception cref="Exception">What the fill failed with, when it failed before those bytes.</exception>
    public async ValueTask WaitForAsync(long absoluteEnd, CancellationToken ct)
    {
        while (true)
        {
            Task wait;
            lock (_sync)
            {
                if (Start + _filled >= absoluteEnd || _complete) return;
                if (_error is not null)
                {
                    System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(_error);
                }
                wait = _progress.Task;
            }
            await wait.WaitAsync(ct).ConfigureAwait(false);
        }
    }

    /// <summary>Gives the buffer back. Called once, by the table, when interest and pins are both zero.</summary>
    public void ReturnBuffer() => _pool.Return(Buffer);
}
