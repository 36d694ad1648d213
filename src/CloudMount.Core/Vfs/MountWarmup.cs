using CloudMount.Core.Caching;
using CloudMount.Core.Reading;
using CloudMount.Core.Storage;
using CloudMount.Core.Storage.Decorators;
using CloudMount.Core.Storage.Memory;

namespace CloudMount.Core.Vfs;

/// <summary>
/// Runs the paths a user's first requests take (lookup, getattr, readdirplus, open, range read through the block
/// table and the caches, release) once on a private in-memory store, through the same decorators as the mounted
/// store (but the counting one: the mount's metrics and request counts never see it), so the first <c>stat</c> and
/// <c>read</c> on a fresh mount do not pay for compiling and initialising them.
/// Measured on s3rver (bench/peers.sh "time to first byte"): the first lookup took 120-160 ms without it against
/// about 22 ms once warm. It sends no request to the mounted store and touches no file.
/// </summary>
public static class MountWarmup
{
    /// <summary>Runs the warm-up; failures are ignored (it only saves time).</summary>
    /// <param name="readAhead">The mount's read-ahead settings, so the same read path is compiled.</param>
    /// <param name="cancellationToken">Stops the warm-up.</param>
    public static async Task RunAsync(ReadAheadOptions readAhead, CancellationToken cancellationToken)
    {
        try
        {
            // The mounted store's decorators but the counting one, which would add these requests to the metrics.
            var backend = new MemoryObjectStore("cloudmount-warmup");
            IObjectStore store = new ReadVerifyingObjectStore(new RetryingObjectStore(
                new UploadVerifyingObjectStore(backend), RetryPolicy.Default));
            var data = new byte[ObjectVersion.BlockSize + 4096];
            await store.WriteAsync("d/f", ObjectContent.FromBytes(data), ObjectWriteOptions.Default, cancellationToken).ConfigureAwait(false);
            using var memory = new MemoryBlockCache(4 * ObjectVersion.BlockSize);
            await using var caches = new ReadCaches(memory, null);
            await using var fs = new CloudFileSystem(store, new VfsOptions
            {
                StagingDirectory = Path.Combine(Path.GetTempPath(), "cloudmount-warmup-unused"),
                ReadAhead = readAhead,
                Caches = caches,
            });
            var dir = await fs.LookupAsync(CloudFileSystem.RootIno, "d", cancellationToken).ConfigureAwait(false);
            ulong dh = fs.OpenDir(dir.Attributes.Ino);
            await fs.ReadDirAsync(dir.Attributes.Ino, dh, 0, true, (in DirectoryEntry _) => true, cancellationToken).ConfigureAwait(false);
            fs.ReleaseDir(dh);
            var file = await fs.LookupAsync(dir.Attributes.Ino, "f", cancellationToken).ConfigureAwait(false);
            await fs.GetAttrAsync(file.Attributes.Ino, cancellationToken).ConfigureAwait(false);
            var open = await fs.OpenAsync(file.Attributes.Ino, OpenFlags.Read, cancellationToken).ConfigureAwait(false);
            // A first read, a sequential one, and a random one served from the memory tier.
            foreach (long offset in new long[] { 0, 4096, ObjectVersion.BlockSize, 8192 + 3 * 4096 })
            {
                using var lease = await fs.LeaseAsync(open.Handle, offset, 4096, cancellationToken).ConfigureAwait(false);
            }
            await fs.ReleaseAsync(open.Handle).ConfigureAwait(false);
            fs.Forget(file.Attributes.Ino, 1);
            fs.Forget(dir.Attributes.Ino, 1);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Only time is at stake.
        }
    }
}
