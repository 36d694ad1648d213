using Microsoft.Extensions.Logging;

namespace CloudMount.Core.Vfs;

/// <summary>
/// Local disk operations on the staging folder, with the one translation of their failures: a full disk is
/// ENOSPC (logged once per minute with the folder's name, so the user learns where), anything else EIO.
/// </summary>
internal static class StagingIo
{
    private static long _lastFullLog;

    /// <summary>Runs <paramref name="action"/>; an <see cref="IOException"/> becomes a <see cref="FileSystemException"/>.</summary>
    public static T Run<T>(VfsContext ctx, string what, Func<T> action)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Translate(ctx, e, what);
        }
    }

    /// <summary>Runs <paramref name="action"/>; an <see cref="IOException"/> becomes a <see cref="FileSystemException"/>.</summary>
    public static void Run(VfsContext ctx, string what, Action action) => Run(ctx, what, () =>
    {
        action();
        return 0;
    });

    /// <summary>Runs <paramref name="action"/>; an <see cref="IOException"/> becomes a <see cref="FileSystemException"/>.</summary>
    public static async Task RunAsync(VfsContext ctx, string what, Func<ValueTask> action)
    {
        try
        {
            await action().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Translate(ctx, e, what);
        }
    }

    /// <summary>Runs a clean-up step whose failure does not matter.</summary>
    public static void TryRun(Action action)
    {
        try
        {
            action();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ObjectDisposedException or FileSystemException)
        {
            // Best effort.
        }
    }

    /// <summary>The filesystem error for a failed staging operation, logged with the staging folder.</summary>
    public static FileSystemException Translate(VfsContext ctx, Exception e, string what)
    {
        var error = FileSystemException.Classify(e);
        if (error == FsError.NoSpace)
        {
            long now = Environment.TickCount64;
            long last = Interlocked.Read(ref _lastFullLog);
            if (now - last > 60_000 && Interlocked.CompareExchange(ref _lastFullLog, now, last) == last)
            {
                ctx.Logger.LogError("the staging folder {Folder} is on a full disk: cannot {What}; writes fail with ENOSPC until there is room", ctx.Staging.Directory, what);
            }
            return new FileSystemException(FsError.NoSpace, $"no space left in {ctx.Staging.Directory}: cannot {what}", e);
        }
        ctx.Logger.LogError("staging folder {Folder}: cannot {What}: {Error}", ctx.Staging.Directory, what, e.Message);
        return new FileSystemException(FsError.Io, $"cannot {what}: {e.Message}", e);
    }
}
