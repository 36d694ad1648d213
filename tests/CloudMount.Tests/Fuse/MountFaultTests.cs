using CloudMount.Tests.Support;
using static CloudMount.Tests.Support.ProcessRunner;

namespace CloudMount.Tests.Fuse;

/// <summary>Issue 10's reproductions that need a whole mount process: unmount right after a close, and a full cache disk.</summary>
[TestFixture]
public sealed class MountFaultTests
{
    // Regression (issue 10, fixed): touch M/e1; fusermount3 -u M exits with SIGSEGV (139) in 2 of 4 runs, logging "release: Cannot
    // access a disposed object" and "unmounting with e1 not uploaded" although it is stored (issue 10): continuations
    // still running after the loop ends reply on a destroyed session.
    [Test]
    public async Task Unmount_right_after_a_close_exits_cleanly_with_the_file_stored()
    {
        string bucket = Paths.NewDir("unmount-bucket");
        var failures = new List<string>();
        for (int i = 0; i < 4; i++)
        {
            string mnt = Paths.NewDir("unmount-mnt");
            var m = await MountProcess.StartAsync("file://" + bucket, mnt);
            await BashOkAsync($"touch {Q(Path.Combine(mnt, $"e{i}"))} && fusermount3 -u {Q(mnt)}");
            string log = await m.StopAsync();
            await m.DisposeAsync();
            if (m.ExitCode != 0) failures.Add($"run {i}: exit code {m.ExitCode}");
            if (log.Contains("not uploaded")) failures.Add($"run {i}: logged a file as not uploaded: {log.Split('\n').First(l => l.Contains("not uploaded"))}");
            if (log.Contains("disposed")) failures.Add($"run {i}: {log.Split('\n').First(l => l.Contains("disposed"))}");
            if (!File.Exists(Path.Combine(bucket, $"e{i}"))) failures.Add($"run {i}: e{i} is not stored");
        }
        Assert.That(failures, Is.Empty, string.Join("\n", failures));
    }

    // Regression (issue 10, fixed): with --cache-dir on an 8 MiB tmpfs, cp new200 M/keep.bin gets ENOSPC from write(), then close()
    // returns 0 and an 8 MiB object replaces the good 20 MiB one; nothing is logged (issue 10).
    [Test]
    public async Task A_full_cache_disk_fails_the_copy_and_keeps_the_good_object()
    {
        string bucket = Paths.NewDir("full-bucket");
        var good = new byte[20 << 20];
        new Random(1).NextBytes(good);
        await File.WriteAllBytesAsync(Path.Combine(bucket, "keep.bin"), good);
        var next = new byte[20 << 20];
        new Random(2).NextBytes(next);
        string src = Path.Combine(Paths.NewDir("full-src"), "new.bin");
        await File.WriteAllBytesAsync(src, next);
        string cache = Paths.NewDir("full-cache");
        await BashOkAsync($"mount -t tmpfs -o size=8m tmpfs {Q(cache)}");
        try
        {
            string mnt = Paths.NewDir("full-mnt");
            await using var m = await MountProcess.StartAsync("file://" + bucket, mnt, ["--cache-dir", cache]);
            var cp = await BashAsync($"cp {Q(src)} {Q(Path.Combine(mnt, "keep.bin"))}");
            string log = await m.StopAsync();
            Assert.Multiple(() =>
            {
                Assert.That(cp.ExitCode, Is.Not.Zero, $"cp into the mount succeeded although the cache disk holds 8 MiB: {cp}");
                Assert.That(File.ReadAllBytes(Path.Combine(bucket, "keep.bin")).AsSpan().SequenceEqual(good), "the good object was replaced");
                Assert.That(log, Does.Contain("No space").IgnoreCase.Or.Contain("ENOSPC"), "nothing was logged about the full disk");
            });
        }
        finally
        {
            await BashAsync($"umount -l {Q(cache)}");
        }
    }
}
