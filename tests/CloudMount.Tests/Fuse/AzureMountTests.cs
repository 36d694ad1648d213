using CloudMount.Tests.Support;
using static CloudMount.Tests.Support.ProcessRunner;

namespace CloudMount.Tests.Fuse;

/// <summary>az:// directory markers (blobfuse2's hdi_isfolder blobs) through a mount on Azurite.</summary>
[NonParallelizable]
public sealed class AzureMountTests
{
    [Test]
    public async Task Empty_directories_are_hdi_isfolder_blobs_and_move_and_vanish_with_their_tree()
    {
        var server = await TestServers.Azurite;
        string container = await server.NewContainerAsync("azdirs");
        string mnt = Paths.NewDir("azdirsmnt");
        string m = Q(mnt);
        await using var mount = await MountProcess.StartAsync($"az://{container}", mnt, ["--endpoint", server.Endpoint.ToString()], server.Env);
        await BashOkAsync($"mkdir -p {m}/a/b/empty && echo x > {m}/a/f.txt");
        var c = server.Container(container);
        async Task<List<string>> Folders()
        {
            var names = new List<string>();
            await foreach (var b in c.GetBlobsAsync(Azure.Storage.Blobs.Models.BlobTraits.Metadata, Azure.Storage.Blobs.Models.BlobStates.None, null, default))
            {
                names.Add(b.Name + (b.Metadata.TryGetValue("hdi_isfolder", out var v) && v == "true" ? " (folder)" : ""));
            }
            return names;
        }
        Assert.That(await Folders(), Is.EquivalentTo(new[] { "a (folder)", "a/b (folder)", "a/b/empty (folder)", "a/f.txt" }));
        await BashOkAsync($"mv {m}/a {m}/c");
        Assert.That(await BashOkAsync($"cd {m} && find . | sort"), Is.EqualTo(".\n./c\n./c/b\n./c/b/empty\n./c/f.txt\n"));
        Assert.That(await Folders(), Is.EquivalentTo(new[] { "c (folder)", "c/b (folder)", "c/b/empty (folder)", "c/f.txt" }));
        await BashOkAsync($"rm {m}/c/f.txt && rmdir {m}/c/b/empty {m}/c/b {m}/c");
        Assert.That(await Folders(), Is.Empty);
        await mount.StopAsync();
    }
}
