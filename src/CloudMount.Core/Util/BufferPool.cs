using System.Collections.Concurrent;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace CloudMount.Core;

/// <summary>
/// Buffers for the data path (read-ahead parts, FUSE replies, write copies), pooled process-wide in power-of-two
/// size classes from 64 KiB to 64 MiB, with a budget on the bytes handed out. Every buffer starts on a
/// 4,096-byte boundary and its class size is a multiple of 4,096, so it can be used for O_DIRECT I/O.
/// </summary>
/// <remarks>
/// <para><c>ArrayPool&lt;byte&gt;.Shared</c> keeps returned arrays in the returning thread's slot first; on the
/// data path a buffer is rented on one thread and returned on another, so it allocated (and zeroed, and
/// page-faulted) almost every 8 MiB part. This pool is not thread-affine, and its arrays are allocated
/// uninitialised on the pinned object heap, so their addresses never change and native code may use them.</para>
/// <para>Memory bound: <see cref="TryRent"/> refuses once <see cref="OutstandingBytes"/> would pass
/// <see cref="BudgetBytes"/> (read-ahead then waits or shrinks); <see cref="Rent"/> always succeeds, for bytes a
/// caller needs to make progress. At most <see cref="MaxIdleBytes"/> of returned buffers are kept for reuse; the
/// shared pool keeps as many as its budget, so a steady stream allocates nothing after its first window (a buffer
/// dropped to the GC stays resident until a full collection, which on the pinned heap is rare: streaming then
/// grew the process by the bytes it dropped).</para>
/// <para>Idle trim: a pool made with <c>trimWhenIdle</c> lets go of its idle buffers once nothing was rented for
/// <see cref="IdleTrimDelay"/>, and has the GC return that memory to the system, so an idle mount goes back to its
/// resting size.</para>
/// </remarks>
public sealed class BufferPool
{
    /// <summary>Alignment of every buffer's first byte.</summary>
    public const int Alignment = 4096;

    private const int MinShift = 16;   // 64 KiB
    private const int MaxShift = 26;   // 64 MiB
    private readonly ConcurrentStack<byte[]>[] _classes = new ConcurrentStack<byte[]>[MaxShift - MinShift + 1];
    private readonly ConcurrentDictionary<byte[], bool>? _owned;
    private long _outstanding;
    private long _idle;
    private long _lastRent = Environment.TickCount64;
    private readonly Timer? _trim;

    /// <summary>How long a pool made with <c>trimWhenIdle</c> waits after its last rent before dropping idle buffers.</summary>
    public static TimeSpan IdleTrimDelay { get; } = TimeSpan.FromSeconds(5);

    /// <summary>Creates a pool.</summary>
    /// <param name="budgetBytes">Bytes that may be rented at once through <see cref="TryRent"/>.</param>
    /// <param name="maxIdleBytes">Bytes of returned buffers kept for reuse.</param>
    /// <param name="trackOwnership">Check every return against the rented set (tests): a double return throws.</param>
    /// <param name="trimWhenIdle">Drop idle buffers (and compact the heap) after <see cref="IdleTrimDelay"/> without a rent.</param>
    public BufferPool(long budgetBytes, long maxIdleBytes, bool trackOwnership = false, bool trimWhenIdle = false)
    {
        if (trimWhenIdle)
        {
            _trim = new Timer(static s => ((BufferPool)s!).TrimIfIdle(), this, IdleTrimDelay, IdleTrimDelay);
        }
        BudgetBytes = budgetBytes;
        MaxIdleBytes = maxIdleBytes;
        _owned = trackOwnership ? new ConcurrentDictionary<byte[], bool>(ReferenceEqualityComparer.Instance) : null;
        for (int i = 0; i < _classes.Length; i++) _classes[i] = new ConcurrentStack<byte[]>();
    }

    /// <summary>
    /// The process-wide pool: a <see cref="DefaultBudgetBytes"/> budget (one file's full read-ahead window; several
    /// files share it; a mount with a larger <c>--read-ahead</c> raises it to that), as much kept idle for reuse,
    /// and trimmed when idle. Sized so a mount streaming a 4 GiB object stays under 160 MiB resident (150 MiB
    /// measured, against 166-169 with 64 MiB, at the same speed) and goes back under 100 MiB when idle (bench/peers.sh).
    /// </summary>
    public static BufferPool Shared { get; } = new(DefaultBudgetBytes, DefaultBudgetBytes, trimWhenIdle: true);

    /// <summary>Budget of <see cref="Shared"/> unless a mount raises it: 48 MiB, the default read-ahead window.</summary>
    public const long DefaultBudgetBytes = 48 * Bytes.MiB;

    /// <summary>Bytes of returned buffers held for reuse now.</summary>
    public long IdleBytes => Interlocked.Read(ref _idle);

    /// <summary>Drops every idle buffer now and, when any was dropped, has the GC return the memory.</summary>
    public void TrimIdle()
    {
        bool dropped = false;
        foreach (var stack in _classes)
        {
            while (stack.TryPop(out var array))
            {
                Interlocked.Add(ref _idle, -array.Length);
                dropped = true;
            }
        }
        if (dropped)
        {
            GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        }
    }

    private void TrimIfIdle()
    {
        if (Environment.TickCount64 - Interlocked.Read(ref _lastRent) < IdleTrimDelay.TotalMilliseconds || IdleBytes == 0) return;
        TrimIdle();
    }

    /// <summary>Bytes that <see cref="TryRent"/> may have out at once.</summary>
    public long BudgetBytes { get; set; }

    /// <summary>Bytes of returned buffers kept for reuse.</summary>
    public long MaxIdleBytes { get; }

    /// <summary>Bytes currently rented (by class size).</summary>
    public long OutstandingBytes => Interlocked.Read(ref _outstanding);

    /// <summary>
    /// An aligned buffer of exactly <paramref name="length"/> bytes (uninitialised), regardless of the budget. The
    /// array behind it extends at least to the length rounded up to <see cref="Alignment"/>.
    /// </summary>
    public ArraySegment<byte> Rent(int length) => RentCore(length, long.MaxValue)!.Value;

    /// <summary>Like <see cref="Rent"/>, but returns <c>null</c> when the buffer would pass the budget.</summary>
    public ArraySegment<byte>? TryRent(int length) => RentCore(length, BudgetBytes);

    private ArraySegment<byte>? RentCore(int length, long budget)
    {
        int shift = ShiftFor(length);
        long own = shift <= MaxShift ? 1L << shift : RoundUp(length);
        if (OutstandingBytes + own > budget) return null;
        Interlocked.Exchange(ref _lastRent, Environment.TickCount64);
        byte[]? array = null;
        // Its own size class first, then an idle buffer up to four times larger (within the budget): allocating while
        // idle buffers of other sizes wait would hold both, and a buffer let go to the GC stays resident until a full
        // collection (a stream's read-ahead parts grow from 1 to 8 MiB, its demand parts are 1 MiB). No more than
        // four times, so small buffers do not take the large ones a stream is about to need.
        for (int c = shift; c <= Math.Min(MaxShift, shift + 2) && array is null && OutstandingBytes + (1L << c) <= budget; c++)
        {
            if (_classes[c - MinShift].TryPop(out array)) Interlocked.Add(ref _idle, -array.Length);
        }
        array ??= GC.AllocateUninitializedArray<byte>((int)own + Alignment, pinned: true);
        Interlocked.Add(ref _outstanding, array.Length - Alignment);
        _owned?.TryAdd(array, true);
        return new ArraySegment<byte>(array, AlignedOffset(array), length);
    }

    /// <summary>Gives a buffer back. It must not be used afterwards.</summary>
    /// <exception cref="InvalidOperationException">With ownership tracking: the buffer is not rented (a double return).</exception>
    public void Return(ArraySegment<byte> buffer)
    {
        var array = buffer.Array!;
        if (_owned is not null && !_owned.TryRemove(array, out _))
        {
            throw new InvalidOperationException("buffer returned to the pool twice");
        }
        int size = array.Length - Alignment;
        Interlocked.Add(ref _outstanding, -size);
        if (!BitOperations.IsPow2(size)) return;
        int shift = BitOperations.Log2((uint)size);
        if (shift is < MinShift or > MaxShift) return;
        if (Interlocked.Add(ref _idle, array.Length) > MaxIdleBytes)
        {
            Interlocked.Add(ref _idle, -array.Length);
            return; // let the GC have it
        }
        _classes[shift - MinShift].Push(array);
    }

    /// <summary>The offset of the first <see cref="Alignment"/>-aligned byte of a pinned array.</summary>
    private static unsafe int AlignedOffset(byte[] pinned)
    {
        nint address = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(pinned));
        return (int)((Alignment - address % Alignment) % Alignment);
    }

    /// <summary>True when <paramref name="span"/> starts on an <see cref="Alignment"/> boundary.</summary>
    public static unsafe bool IsAligned(ReadOnlySpan<byte> span) =>
        (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(span)) % Alignment == 0;

    /// <summary><paramref name="length"/> rounded up to a multiple of <see cref="Alignment"/>.</summary>
    public static int RoundUp(int length) => (length + Alignment - 1) / Alignment * Alignment;

    private static int ShiftFor(int length) =>
        Math.Max(MinShift, length <= 1 ? 0 : BitOperations.Log2((uint)(length - 1)) + 1);
}
