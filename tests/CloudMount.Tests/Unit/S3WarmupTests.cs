using CloudMount.Core.Reading;
using CloudMount.Core.Storage.S3;
using CloudMount.Core.Vfs;

namespace CloudMount.Tests.Unit;

/// <summary>The mount's warm-ups run every step they mean to warm (a failure would be silent in a mount).</summary>
public sealed class S3WarmupTests
{
    [Test]
    public async Task The_s3_warm_up_lists_reads_and_heads_through_the_sdk_without_a_server()
    {
        Assert.That(await S3Warmup.RunAsync(CancellationToken.None), Is.True);
        Assert.That(await S3Warmup.RunAsync(CancellationToken.None), Is.True, "twice in one process");
    }

    [Test]
    public async Task The_vfs_warm_up_goes_through_lookup_readdir_open_reads_and_release_and_leaves_no_folder()
    {
        Assert.That(await MountWarmup.RunAsync(new ReadAheadOptions(), CancellationToken.None), Is.True);
        Assert.That(Directory.Exists(Path.Combine(Path.GetTempPath(), $"cloudmount-warmup-{Environment.ProcessId}")), Is.False);
    }
}
