namespace CloudMount.Core.Vfs;

/// <summary>
/// Takes the <see cref="Inode.Gate"/>s an operation needs. The order is the one rule that keeps several gates
/// free of deadlock: always ascending by inode number, all at once, never while holding the table lock.
/// Namespace operations take the gate of every directory whose entries they change and of every inode they
/// unlink, replace or move; write-back (write, truncate, upload, metadata changes) takes the file's own gate.
/// </summary>
internal static class InodeGates
{
    /// <summary>Waits for the gates of <paramref name="inodes"/> (duplicates and nulls ignored) in inode order.</summary>
    /// <exception cref="OperationCanceledException">Cancelled while waiting; no gate is held then.</exception>
    public static async ValueTask<Held> EnterAsync(CancellationToken cancellationToken, params Inode?[] inodes)
    {
        var sorted = inodes.OfType<Inode>().DistinctBy(n => n.Ino).OrderBy(n => n.Ino).ToArray();
        int taken = 0;
        try
        {
            for (; taken < sorted.Length; taken++)
            {
                await sorted[taken].Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            for (int i = taken - 1; i >= 0; i--) sorted[i].Gate.Release();
            throw;
        }
        return new Held(sorted);
    }

    /// <summary>Waits for one inode's gate.</summary>
    public static async ValueTask<Held> EnterAsync(Inode inode, CancellationToken cancellationToken)
    {
        await inode.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        return new Held([inode]);
    }

    /// <summary>Gates held; disposing releases them in reverse order.</summary>
    public sealed class Held(Inode[] inodes) : IDisposable
    {
        private int _released;

        /// <inheritdoc/>
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) != 0) return;
            for (int i = inodes.Length - 1; i >= 0; i--) inodes[i].Gate.Release();
        }
    }
}
