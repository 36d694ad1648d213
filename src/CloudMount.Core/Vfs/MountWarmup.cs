using CloudMount.Core.Caching;
using CloudMount.Core.Reading;
using CloudMount.Core.Storage;
using CloudMount.Core.Storage.Decorators;
using CloudMount.Core.Storage.Memory;

namespace CloudMount.Core.Vfs;

/// <summary>
/// Runs the paths a user's first requests take (lookup, getattr, readdirplus, open, range read through the block
/// table and the caches, flush, release) once on a private in-memory store, through the same decorators as the mounted
/// store (counting into private stats: the mount's metrics and request counts never see it), every call yielding
/// like a request (<see cref="YieldingObjectStore"/>), so the first <c>stat</c> and
/// <c>read</c> on a fresh mount do not pay for compiling and initialising them.
/// Measured on s3rver (bench/peers.sh "time to first byte"): the first lookup took 120-160 ms without it against
/// about 22 ms once warm. It sends no request to the mounted store; it creates one empty temporary folder and removes it.
/// </summary>
public static class MountWarmup
{
    /// <summary>Runs the warm-up; failures are ignored (it only saves time).</summary>
    /// <param name="readAhead">The mount's read-ahead settings, so the same read path is compiled.</param>
    /// <param name="cancellationToken">Stops the warm-up.</param>
    /// <returns>True when every step went through; false when one failed (the mount goes on regardless).</returns>
    public static async Task<bool> RunAsync(ReadAheadOptions readAhead, CancellationToken cancellationToken)
    {
        // Decoded copies would go here (none is made: the warm-up's object is not encoded); removed at the end.
        string scratch = Path.Combine(Path.GetTempPath(), $"cloudmount-warmup-{Environment.ProcessId}");
        try
        {
            // The mounted store's decorators (StoreFactory's order) over an in-memory store whose calls yield like
            // requests. Counting goes to private stats; the metrics exporter starts after the warm-up, so its
            // instruments record nothing yet.
            var backend = new MemoryObjectStore("cloudmount-warmup");
            var stats = new RequestStats();
            IObjectStore store = new ReadVerifyingObjectStore(new RetryingObjectStore(
                new UploadVerifyingObjectStore(new CountingObjectStore(new YieldingObjectStore(backend), stats)), RetryPolicy.Default, stats));
            var data = new byte[ObjectVersion.BlockSize + 4096];
            await store.WriteAsync("d/f", ObjectContent.FromBytes(data), ObjectWriteOptions.Default, cancellationToken).ConfigureAwait(false);
            using var memory = new MemoryBlockCache(4 * ObjectVersion.BlockSize);
            await using var caches = new ReadCaches(memory, null);
            // With decoding, as a mount without --raw: open learns the encoding from the first block's request.
            await using var decoding = new Codecs.DecodedCopies(store, scratch, ObjectVersion.BlockSize, null, readAhead);
            await using var fs = new CloudFileSystem(store, new VfsOptions
            {
                StagingDirectory = Path.Combine(scratch, "staging-unused"),
                ReadAhead = readAhead,
                Caches = caches,
                Decoding = decoding,
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
            await fs.FlushAsync(open.Handle, cancellationToken).ConfigureAwait(false);
            await fs.ReleaseAsync(open.Handle).ConfigureAwait(false);
            fs.Forget(file.Attributes.Ino, 1);
            fs.Forget(dir.Attributes.Ino, 1);
            return true;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Only time is at stake.
            return false;
        }
        finally
        {
            try
            {
                if (Directory.Exists(scratch)) Directory.Delete(scratch, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // An empty folder left in the temporary directory.
            }
        }
    }
}
