using System.Collections.Concurrent;
using System.Numerics;

namespace CloudMount.Core;

/// <summary>
/// Buffers for the data path (read-ahead parts, FUSE replies, write copies), pooled process-wide in power-of-two
/// size classes from 64 KiB to 64 MiB, with a budget on the bytes handed out.
/// </summary>
/// <remarks>
/// <para><c>ArrayPool&lt;byte&gt;.Shared</c> keeps returned arrays in the returning thread's slot first; on the
/// data path a buffer is rented on one thread and returned on another, so it allocated (and zeroed, and
/// page-faulted) almost every 8 MiB part. This pool is not thread-affine, and its arrays are allocated
/// uninitialised on the pinned object heap, so handing one to native code costs nothing.</para>
/// <para>Memory bound: <see cref="TryRent"/> refuses once <see cref="OutstandingBytes"/> would pass
/// <see cref="BudgetBytes"/> (read-ahead then waits or shrinks); <see cref="Rent"/> always succeeds, for bytes a
/// caller needs to make progress. At most <see cref="MaxIdleBytes"/> of returned buffers are kept for reuse.</para>
/// </remarks>
public sealed class BufferPool
{
    private const int MinShift = 16;   // 64 KiB
    private const int MaxShift = 26;   // 64 MiB
    private readonly ConcurrentStack<byte[]>[] _classes = new ConcurrentStack<byte[]>[MaxShift - MinShift + 1];
    private long _outstanding;
    private long _idle;

    /// <summary>Creates a pool.</summary>
    /// <param name="budgetBytes">Bytes that may be rented at once through <see cref="TryRent"/>.</param>
    /// <param name="maxIdleBytes">Bytes of returned buffers kept for reuse.</param>
    public BufferPool(long budgetBytes, long maxIdleBytes)
    {
        BudgetBytes = budgetBytes;
        MaxIdleBytes = maxIdleBytes;
        for (int i = 0; i < _classes.Length; i++) _classes[i] = new ConcurrentStack<byte[]>();
    }

    /// <summary>The process-wide pool: 128 MiB budget, 64 MiB kept idle.</summary>
    public static BufferPool Shared { get; } = new(128 * Bytes.MiB, 64 * Bytes.MiB);

    /// <summary>Bytes that <see cref="TryRent"/> may have out at once.</summary>
    public long BudgetBytes { get; set; }

    /// <summary>Bytes of returned buffers kept for reuse.</summary>
    public long MaxIdleBytes { get; }

    /// <summary>Bytes currently rented (by array length).</summary>
    public long OutstandingBytes => Interlocked.Read(ref _outstanding);

    /// <summary>A buffer of at least <paramref name="minimumLength"/> bytes (uninitialised), regardless of the budget.</summary>
    public byte[] Rent(int minimumLength)
    {
        int shift = ShiftFor(minimumLength);
        byte[]? array = null;
        if (shift <= MaxShift && _classes[shift - MinShift].TryPop(out array))
        {
            Interlocked.Add(ref _idle, -array.Length);
        }
        array ??= GC.AllocateUninitializedArray<byte>(shift <= MaxShift ? 1 << shift : minimumLength, pinned: true);
        Interlocked.Add(ref _outstanding, array.Length);
        return array;
    }

    /// <summary>Like <see cref="Rent"/>, but returns <c>null</c> when the buffer would pass the budget.</summary>
    public byte[]? TryRent(int minimumLength)
    {
        long size = 1L << ShiftFor(minimumLength);
        if (OutstandingBytes + size > BudgetBytes)
        {
            return null;
        }
        return Rent(minimumLength);
    }

    /// <summary>Gives a buffer back. It must not be used afterwards.</summary>
    public void Return(byte[] array)
    {
        Interlocked.Add(ref _outstanding, -array.Length);
        if (!BitOperations.IsPow2(array.Length)) return;
        int shift = BitOperations.Log2((uint)array.Length);
        if (shift is < MinShift or > MaxShift) return;
        if (Interlocked.Add(ref _idle, array.Length) > MaxIdleBytes)
        {
            Interlocked.Add(ref _idle, -array.Length);
            return; // let the GC have it
        }
        _classes[shift - MinShift].Push(array);
    }

    private static int ShiftFor(int length) =>
        Math.Max(MinShift, length <= 1 ? 0 : BitOperations.Log2((uint)(length - 1)) + 1);
}
