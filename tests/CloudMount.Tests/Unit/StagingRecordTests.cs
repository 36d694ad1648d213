using CloudMount.Core.Writing;
using CloudMount.Tests.Support;

namespace CloudMount.Tests.Unit;

/// <summary>Staging records: written anew, rewritten in place (padded) or by rename, and read back by recovery.</summary>
public sealed class StagingRecordTests
{
    private static PendingUpload Record(string key, string state, int metadataBytes = 0) =>
        new("s3://bucket", key, state == PendingUpload.Closed ? "being uploaded" : "being written", DateTimeOffset.UnixEpoch.AddSeconds(1_700_000_000), "\"etag\"")
        {
            State = state,
            Metadata = metadataBytes > 0 ? new Dictionary<string, string> { ["note"] = new string('x', metadataBytes) } : null,
        };

    private static PendingUpload Recovered(string root) => WriteBackRecovery.Find(root).Single().Sidecar;

    [Test]
    public void A_shorter_record_rewritten_in_place_reads_back_whole_and_padded_to_the_old_length()
    {
        string root = Paths.NewDir("staging-records");
        using var area = new StagingArea(Path.Combine(root, "m1"));
        using var file = area.Create();
        file.WriteRecord(Record("a/long-name-of-a-file.txt", PendingUpload.Writing, metadataBytes: 300));
        long first = new FileInfo(file.RecordPath).Length;
        var shorter = Record("a/b.txt", PendingUpload.Closed);
        file.WriteRecord(shorter);
        Assert.That(new FileInfo(file.RecordPath).Length, Is.EqualTo(first), "rewritten in place, padded with spaces");
        Assert.That(File.Exists(file.RecordPath + ".tmp"), Is.False);
        var back = Recovered(root);
        Assert.That((back.Key, back.State, back.Reason, back.Metadata), Is.EqualTo((shorter.Key, shorter.State, shorter.Reason, (Dictionary<string, string>?)null)));
        Assert.That(back.IsClosed, Is.True);

        var longer = Record("a/c.txt", PendingUpload.Writing, metadataBytes: 600);
        file.WriteRecord(longer);
        Assert.That(new FileInfo(file.RecordPath).Length, Is.GreaterThan(first));
        back = Recovered(root);
        Assert.That((back.Key, back.State, back.Metadata!["note"]), Is.EqualTo((longer.Key, longer.State, longer.Metadata!["note"])));
    }

    [Test]
    public void A_record_over_a_page_is_renamed_into_place_and_a_removed_record_is_written_anew()
    {
        string root = Paths.NewDir("staging-records-big");
        using var area = new StagingArea(Path.Combine(root, "m1"));
        using var file = area.Create();
        file.WriteRecord(Record("k", PendingUpload.Writing));
        file.WriteRecord(Record("k", PendingUpload.Writing, metadataBytes: StagingFile.InPlaceRecordBytes));
        Assert.That(Recovered(root).Metadata!["note"], Has.Length.EqualTo(StagingFile.InPlaceRecordBytes));
        var small = Record("k", PendingUpload.Closed);
        file.WriteRecord(small);
        Assert.That(new FileInfo(file.RecordPath).Length, Is.LessThan(1024), "after a large record, a small one is renamed into place, not padded to it");
        Assert.That(Recovered(root).State, Is.EqualTo(PendingUpload.Closed));

        File.Delete(file.RecordPath);
        file.WriteRecord(Record("k2", PendingUpload.Writing));
        Assert.That(Recovered(root).Key, Is.EqualTo("k2"), "a record someone removed is written again");

        file.DeleteRecord();
        Assert.That(WriteBackRecovery.Find(root), Is.Empty);
        file.WriteRecord(Record("k3", PendingUpload.Closed));
        Assert.That(Recovered(root).Key, Is.EqualTo("k3"));
    }

    [Test]
    public async Task Recovery_leaves_this_mounts_own_folder_alone_after_its_lock_is_released_and_uploads_it_from_another_mount()
    {
        // At unmount the mount releases its folder's lock while its own recovery may still be running (CI: a
        // Ctrl-C during mount set-up): that recovery must not take the folder for a dead mount's.
        string root = Paths.NewDir("staging-own");
        string own = Path.Combine(root, "own");
        var store = new CloudMount.Core.Storage.Memory.MemoryObjectStore("recovery-own");
        var area = new StagingArea(own);
        var file = area.Create();
        file.Write(0, "hello"u8);
        file.WriteRecord(new PendingUpload(store.Name, "k.txt", "being uploaded", DateTimeOffset.UtcNow, null) { State = PendingUpload.Closed });
        file.Close(delete: false);
        area.Dispose();
        var log = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

        int done = await WriteBackRecovery.RunAsync(root, own, store, new CloudMount.Core.Writing.UploadOptions(), log, CancellationToken.None);
        Assert.That(done, Is.Zero);
        Assert.That(await store.HeadAsync("k.txt", CancellationToken.None), Is.Null);
        Assert.That(WriteBackRecovery.Find(root), Has.Count.EqualTo(1), "the own folder's record stays");

        done = await WriteBackRecovery.RunAsync(root, Path.Combine(root, "another"), store, new CloudMount.Core.Writing.UploadOptions(), log, CancellationToken.None);
        Assert.That(done, Is.EqualTo(1));
        Assert.That((await store.HeadAsync("k.txt", CancellationToken.None))?.Size, Is.EqualTo(5));
        Assert.That(Directory.Exists(own), Is.False, "the dead folder is removed once nothing unsaved is left");

        Assert.That(await WriteBackRecovery.RunAsync(Path.Combine(root, "missing"), null, store, new CloudMount.Core.Writing.UploadOptions(), log, CancellationToken.None), Is.Zero);
    }
}
