using CloudMount.Core;

namespace CloudMount.Tests.Unit;

/// <summary>The data-path pool reuses idle buffers of nearby sizes instead of allocating, within its budget.</summary>
public sealed class BufferPoolTests
{
    private const int MiB = 1 << 20;

    [Test]
    public void A_rent_takes_an_idle_buffer_up_to_four_times_larger_instead_of_allocating()
    {
        var pool = new BufferPool(64L * MiB, 64L * MiB, trackOwnership: true);
        pool.Return(pool.Rent(8 * MiB));
        Assert.That(pool.IdleBytes, Is.GreaterThanOrEqualTo(8L * MiB));
        var small = pool.Rent(64 * 1024);
        Assert.That(pool.IdleBytes, Is.GreaterThanOrEqualTo(8L * MiB), "a 64 KiB rent leaves the 8 MiB buffer for the stream that needs it");
        var two = pool.Rent(2 * MiB);
        Assert.That(pool.IdleBytes, Is.Zero, "a 2 MiB rent reuses the idle 8 MiB buffer");
        Assert.That(two.Count, Is.EqualTo(2 * MiB));
        Assert.That(pool.OutstandingBytes, Is.EqualTo(8L * MiB + 64 * 1024), "outstanding counts the buffer's real size");
        pool.Return(two);
        pool.Return(small);
        Assert.That(pool.OutstandingBytes, Is.Zero);
    }

    [Test]
    public void A_budgeted_rent_takes_no_larger_buffer_than_the_budget_allows()
    {
        var pool = new BufferPool(4L * MiB, 64L * MiB, trackOwnership: true);
        pool.Return(pool.Rent(8 * MiB));
        var got = pool.TryRent(2 * MiB);
        Assert.That(got, Is.Not.Null);
        Assert.That(pool.OutstandingBytes, Is.EqualTo(2L * MiB), "a new 2 MiB buffer, not the idle 8 MiB one past the budget");
        Assert.That(pool.TryRent(4 * MiB), Is.Null, "2 + 4 MiB would pass the 4 MiB budget");
        pool.Return(got!.Value);
    }
}
