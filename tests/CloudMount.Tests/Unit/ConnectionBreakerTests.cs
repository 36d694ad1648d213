using CloudMount.Core.Storage;
using CloudMount.Core.Storage.Decorators;
using CloudMount.Core.Storage.Memory;
using CloudMount.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;

namespace CloudMount.Tests.Unit;

/// <summary>
/// The circuit breaker on connection failures, through <see cref="RetryingObjectStore"/> and alone: it opens after two
/// failures in a row however far apart they are (a stalled server whose timed-out attempts last several timeouts
/// each), any answer breaks the row, and an open breaker fails fast and lets one probe through per break.
/// </summary>
public sealed class ConnectionBreakerTests
{
    private static readonly RetryPolicy Fast = new() { MaxAttempts = 7, BaseDelay = TimeSpan.FromMilliseconds(1), MaxDelay = TimeSpan.FromMilliseconds(2) };

    private static async Task<(RetryingObjectStore Store, FaultyObjectStore Faults, ManualClock Clock)> StoreAsync()
    {
        var mem = new MemoryObjectStore("breaker");
        await mem.WriteAsync("k", ObjectContent.FromBytes(new byte[] { 1, 2, 3 }), ObjectWriteOptions.Default, CancellationToken.None);
        var faults = new FaultyObjectStore(mem);
        var clock = new ManualClock();
        return (new RetryingObjectStore(faults, Fast, time: clock), faults, clock);
    }

    [Test]
    public async Task Two_connection_failures_in_a_row_open_it_however_long_each_attempt_took()
    {
        var (store, faults, clock) = await StoreAsync();
        int calls = 0;
        faults.Fail = (_, _) =>
        {
            calls++;
            clock.Advance(TimeSpan.FromSeconds(13)); // an attempt the client sent several times, each one timing out
            return new ConnectionFailedException("no answer within 3 s (--timeout)");
        };
        Assert.ThrowsAsync<StoreUnavailableException>(() => store.HeadAsync("k", CancellationToken.None));
        Assert.That(calls, Is.EqualTo(2), "the first attempt and one retry reached the store; the third was refused by the breaker");

        calls = 0;
        Assert.ThrowsAsync<StoreUnavailableException>(() => store.ListAsync(new ListRequest(""), CancellationToken.None));
        Assert.That(calls, Is.Zero, "an open breaker sends nothing");
    }

    [Test]
    public async Task After_the_break_one_probe_goes_out_a_failed_probe_reopens_it_and_an_answer_closes_it()
    {
        var (store, faults, clock) = await StoreAsync();
        int calls = 0;
        bool down = true;
        faults.Fail = (_, _) => { calls++; return down ? new ConnectionFailedException("connection refused") : null; };
        Assert.ThrowsAsync<StoreUnavailableException>(() => store.HeadAsync("k", CancellationToken.None));

        clock.Advance(Fast.BreakDuration);
        calls = 0;
        Assert.ThrowsAsync<StoreUnavailableException>(() => store.HeadAsync("k", CancellationToken.None));
        Assert.That(calls, Is.EqualTo(1), "one probe, which failed and opened the breaker again");
        calls = 0;
        Assert.ThrowsAsync<StoreUnavailableException>(() => store.HeadAsync("k", CancellationToken.None));
        Assert.That(calls, Is.Zero, "open again for a whole break");

        down = false;
        clock.Advance(Fast.BreakDuration);
        Assert.That((await store.HeadAsync("k", CancellationToken.None))!.Size, Is.EqualTo(3));
        Assert.That((await store.HeadAsync("k", CancellationToken.None))!.Size, Is.EqualTo(3));
        Assert.That(calls, Is.EqualTo(2), "closed: every request goes out");
    }

    [Test]
    public async Task Any_answer_between_connection_failures_breaks_the_row()
    {
        var (store, faults, _) = await StoreAsync();
        var outcomes = new Queue<Exception?>([
            new ConnectionFailedException("reset"), null,
            new ConnectionFailedException("reset"), new AccessDeniedException("403"),
            new ConnectionFailedException("reset"), new TransientStoreException("503 SlowDown"),
            new ConnectionFailedException("reset"), null]);
        int calls = 0;
        faults.Fail = (_, _) => { calls++; return outcomes.Dequeue(); };
        Assert.That(await store.HeadAsync("k", CancellationToken.None), Is.Not.Null);
        Assert.ThrowsAsync<AccessDeniedException>(() => store.HeadAsync("k", CancellationToken.None));
        Assert.That(await store.HeadAsync("k", CancellationToken.None), Is.Not.Null);
        Assert.That(calls, Is.EqualTo(8), "never opened: no two connection failures in a row");
    }

    [Test]
    public async Task A_half_open_breaker_lets_one_probe_through_at_a_time_and_a_cancelled_probe_frees_its_place()
    {
        var clock = new ManualClock();
        var breaker = new ConnectionBreaker(2, TimeSpan.FromSeconds(5), "test", NullLogger.Instance, clock);
        for (int i = 0; i < 2; i++)
        {
            Assert.ThrowsAsync<ConnectionFailedException>(() => breaker.RunAsync<int>(_ => throw new ConnectionFailedException("refused"), CancellationToken.None));
        }
        Assert.That(breaker.IsOpen, Is.True);
        clock.Advance(TimeSpan.FromSeconds(5));

        using var cts = new CancellationTokenSource();
        var probe = breaker.RunAsync(async ct => { await Task.Delay(Timeout.Infinite, ct); return 0; }, cts.Token);
        Assert.ThrowsAsync<StoreUnavailableException>(() => breaker.RunAsync(_ => Task.FromResult(1), CancellationToken.None), "a second request during the probe fails fast");
        cts.Cancel();
        Assert.CatchAsync<OperationCanceledException>(() => probe);
        Assert.That(breaker.IsOpen, Is.True, "a cancelled probe says nothing about the store");

        Assert.That(await breaker.RunAsync(_ => Task.FromResult(7), CancellationToken.None), Is.EqualTo(7), "the next request probes");
        Assert.That(breaker.IsOpen, Is.False);
        Assert.That(await breaker.RunAsync(_ => Task.FromResult(8), CancellationToken.None), Is.EqualTo(8));
    }
}
