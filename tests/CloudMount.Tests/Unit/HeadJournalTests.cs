using CloudMount.Core.Caching;
using CloudMount.Core.Storage;
using CloudMount.Tests.Support;

namespace CloudMount.Tests.Unit;

/// <summary>The journal of object heads kept beside the disk cache across mounts.</summary>
public sealed class HeadJournalTests
{
    private static ObjectInfo Head(string key, string etag, string mode) =>
        new(key, 10, etag, DateTimeOffset.FromUnixTimeSeconds(1_700_000_000)) { Metadata = new Dictionary<string, string> { ["mode"] = mode } };

    [Test]
    public void Heads_survive_a_reopen_only_for_their_own_version_and_forgotten_ones_stay_forgotten()
    {
        string dir = Paths.NewDir("heads");
        using (var j = HeadJournal.Open(dir, "s3://b"))
        {
            j.Remember(Head("link", "e1", "41471"));
            j.Remember(Head("file", "e2", "33261"));
            j.Remember(Head("file", "e3", "33188")); // a newer version replaces the older
            j.Remember(Head("d/", "m1", "16877"));
            j.Remember(Head("gone", "e4", "33188"));
            j.Forget("gone");
            j.Remember(new ObjectInfo("plain", 1, "e5", DateTimeOffset.UnixEpoch)); // no metadata: not kept
            j.Remember(Head("enc", "e6", "33188") with { ContentEncoding = "gzip" }); // decoded size not kept: not kept
        }
        File.AppendAllText(Directory.GetFiles(Path.Combine(dir, "heads"))[0], "{\"K\":\"torn"); // a crash mid-line
        using var again = HeadJournal.Open(dir, "s3://b");
        Assert.Multiple(() =>
        {
            Assert.That(again.TryGet("link", "e1")?.Metadata?["mode"], Is.EqualTo("41471"));
            Assert.That(again.TryGet("file", "e2"), Is.Null, "an older version");
            Assert.That(again.TryGet("file", "e3")?.Metadata?["mode"], Is.EqualTo("33188"));
            Assert.That(again.TryGet("link", "other"), Is.Null, "another version");
            Assert.That(again.TryGetMarker("d/")?.Metadata?["mode"], Is.EqualTo("16877"));
            Assert.That(again.TryGet("gone", "e4"), Is.Null);
            Assert.That(again.TryGet("plain", "e5"), Is.Null);
            Assert.That(again.TryGet("enc", "e6"), Is.Null);
            Assert.That(again.Count, Is.EqualTo(3));
        });
        using var other = HeadJournal.Open(dir, "s3://other");
        Assert.That(other.TryGet("link", "e1"), Is.Null, "each store has its own journal");
    }

    [Test]
    public void The_file_is_rewritten_compactly_when_it_holds_mostly_superseded_lines()
    {
        string dir = Paths.NewDir("heads");
        using (var j = HeadJournal.Open(dir, "s3://b"))
        {
            for (int i = 0; i < 30_000; i++) j.Remember(Head("same", "e" + i, "33188"));
            Assert.That(File.ReadLines(Directory.GetFiles(Path.Combine(dir, "heads"))[0]).Count(), Is.LessThanOrEqualTo(10_002));
        }
        using var again = HeadJournal.Open(dir, "s3://b");
        Assert.That(again.TryGet("same", "e29999"), Is.Not.Null);
        Assert.That(again.Count, Is.EqualTo(1));
    }
}
