using CloudMount.Tests.Support;

namespace CloudMount.Tests;

/// <summary>
/// Runs once around the whole test run: stops the servers the tests started, checks that no FUSE mount of
/// ours is left, and removes the scratch folder. A test run leaves no mount and no server behind. It sits in the
/// root namespace because NUnit applies a SetUpFixture only to the tests in its own namespace and below.
/// </summary>
[SetUpFixture]
public sealed class GlobalSetup
{
    [OneTimeTearDown]
    public async Task TearDown()
    {
        await TestServers.StopAllAsync();
        var leftovers = Mounts.OursUnder(Paths.Scratch);
        foreach (var m in leftovers)
        {
            await ProcessRunner.BashAsync($"fusermount3 -u -z {ProcessRunner.Q(m)}");
        }
        try
        {
            Directory.Delete(Paths.Scratch, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a lazily unmounted folder may still be busy for a moment.
        }
        Assert.That(leftovers, Is.Empty, "tests left FUSE mounts behind");
    }
}
