using CloudMount.Core.Storage.Decorators;
using CloudMount.Core.Vfs;

namespace CloudMount.Tests.Unit;

/// <summary>
/// Lookups of names no listing gave (a program opening many files it did not list): from the second name in a
/// directory the directory is listed, concurrent misses share one listing, and a directory larger than two LIST
/// pages has the names of its first pages known and the rest resolved one by one.
/// </summary>
public sealed class LookupListingTests
{
    private VfsHarness _h = null!;

    [SetUp]
    public void SetUp() => _h = new VfsHarness();

    [TearDown]
    public async Task TearDown() => await _h.DisposeAsync();

    private Task<EntryReply> LookupAsync(ulong dir, string name) => _h.Fs.LookupAsync(dir, name, CancellationToken.None).AsTask();

    [Test]
    public async Task Opening_every_file_of_an_unlisted_directory_costs_two_lists_not_one_each()
    {
        for (int i = 0; i < 300; i++) await _h.PutAsync($"d/f{i:000}.txt", new string('x', i % 17));
        var dir = await _h.WalkAsync("d");
        long before = _h.Requests(RequestKind.List);
        for (int i = 0; i < 300; i++)
        {
            Assert.That((await LookupAsync(dir.Attributes.Ino, $"f{i:000}.txt")).Attributes.Size, Is.EqualTo(i % 17));
        }
        Assert.That(() => LookupAsync(dir.Attributes.Ino, "missing"), Throws.InstanceOf<FileSystemException>());
        Assert.That(_h.Requests(RequestKind.List) - before, Is.EqualTo(2), "one LIST for the first name, one listing for the rest");
        Assert.That(_h.Requests(RequestKind.Head), Is.Zero);

        // After the TTL the directory is listed again, once, for all names.
        _h.Clock.Advance(TimeSpan.FromSeconds(6));
        before = _h.Requests(RequestKind.List);
        for (int i = 0; i < 300; i += 7) await LookupAsync(dir.Attributes.Ino, $"f{i:000}.txt");
        Assert.That(_h.Requests(RequestKind.List) - before, Is.EqualTo(1));
    }

    [Test]
    public async Task Lookups_that_miss_together_share_one_listing()
    {
        for (int i = 0; i < 50; i++) await _h.PutAsync($"d/f{i:00}", "y");
        var dir = await _h.WalkAsync("d");
        await _h.ListAsync(dir.Attributes.Ino);
        _h.Clock.Advance(TimeSpan.FromSeconds(6));
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _h.Faults.Hold = (kind, _) => kind == "list" ? release.Task : Task.CompletedTask;
        long before = _h.Requests(RequestKind.List);
        var lookups = Enumerable.Range(0, 20).Select(i => LookupAsync(dir.Attributes.Ino, $"f{i:00}")).ToList();
        await Task.Delay(100);
        Assert.That(lookups.Any(l => l.IsCompleted), Is.False, "every lookup waits for the one listing");
        release.SetResult();
        var found = await Task.WhenAll(lookups);
        Assert.That(found.Select(f => f.Attributes.Size), Is.All.EqualTo(1));
        Assert.That(_h.Requests(RequestKind.List) - before, Is.EqualTo(1));
    }

    [Test]
    public async Task In_a_directory_of_more_than_two_pages_the_first_pages_answer_their_names_and_the_rest_go_one_by_one()
    {
        for (int i = 0; i < 2_500; i++) await _h.PutAsync($"big/{i:0000}", i % 3 == 0 ? "" : "zz");
        var dir = await _h.WalkAsync("big");
        long before = _h.Requests(RequestKind.List);
        for (int i = 0; i < 200; i++)
        {
            Assert.That((await LookupAsync(dir.Attributes.Ino, $"{i:0000}")).Attributes.Size, Is.EqualTo(i % 3 == 0 ? 0 : 2));
        }
        Assert.That(_h.Requests(RequestKind.List) - before, Is.EqualTo(1 + 2), "the first name, then two pages of 1,000");

        // Names past the pages listed: one LIST each, until the 16th lists the first pages again.
        before = _h.Requests(RequestKind.List);
        for (int i = 2_400; i < 2_410; i++) Assert.That((await LookupAsync(dir.Attributes.Ino, $"{i:0000}")).Attributes.Size, Is.EqualTo(i % 3 == 0 ? 0 : 2));
        Assert.That(_h.Requests(RequestKind.List) - before, Is.EqualTo(10));
        Assert.That(_h.Requests(RequestKind.Head), Is.Zero);
    }

    [Test]
    public async Task A_local_change_made_while_the_listing_runs_wins_over_its_answer()
    {
        for (int i = 0; i < 20; i++) await _h.PutAsync($"d/f{i:00}", "old");
        var dir = await _h.WalkAsync("d");
        await LookupAsync(dir.Attributes.Ino, "f00");
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _h.Faults.Hold = (kind, _) => kind == "list" ? release.Task : Task.CompletedTask;
        var second = LookupAsync(dir.Attributes.Ino, "f01");   // lists the directory
        await Task.Delay(50);
        _h.Faults.Hold = null;
        await _h.Fs.UnlinkAsync(dir.Attributes.Ino, "f05", CancellationToken.None);
        release.SetResult();
        Assert.That((await second).Attributes.Size, Is.EqualTo(3));
        Assert.That(() => LookupAsync(dir.Attributes.Ino, "f05"), Throws.InstanceOf<FileSystemException>(), "the unlink made while listing stands");
    }
}
