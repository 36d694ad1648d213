using CloudMount.Core.Storage;
using CloudMount.Core.Writing;
using Microsoft.Extensions.Logging;

namespace CloudMount.Core.Vfs;

/// <summary>
/// What every part of the Vfs shares: the store, the options, the clock, the inode table and the directory
/// views. Immutable after construction except <see cref="InvalidateKernelAttributes"/> (set once by the adapter)
/// and the offline notice flag.
/// </summary>
internal sealed class VfsContext
{
    private int _offlineNoticed;

    public VfsContext(IObjectStore store, VfsOptions options, ILogger logger, TimeProvider time)
    {
        Store = store;
        Options = options;
        Logger = logger;
        Time = time;
        MountTime = time.GetUtcNow();
        Table = new InodeTable(options.RootPrefix, MountTime);
        Views = new DirectoryViews(this);
        Staging = new StagingArea(options.StagingDirectory);
    }

    public IObjectStore Store { get; }
    public VfsOptions Options { get; }
    public ILogger Logger { get; }
    public TimeProvider Time { get; }
    public DateTimeOffset MountTime { get; }
    public InodeTable Table { get; }
    public DirectoryViews Views { get; }
    public StagingArea Staging { get; }

    /// <summary>Set by the adapter: tells the kernel an inode's attributes changed.</summary>
    public Action<ulong>? InvalidateKernelAttributes { get; set; }

    /// <summary>Seconds the kernel may cache attributes and entries.</summary>
    public double AttrTimeoutSeconds => Options.MetadataTtl.TotalSeconds;

    /// <summary>HEAD every listed file (exact attributes).</summary>
    public bool ExactAttributes => Options.ExactAttributes || Options.PosixAttributes;

    /// <exception cref="FileSystemException">ReadOnly on a read-only mount.</exception>
    public void ThrowIfReadOnly()
    {
        if (Options.ReadOnly) throw new FileSystemException(FsError.ReadOnly, "read-only mount");
    }

    /// <summary>True when the store could not be reached (after retries), so cached metadata may stand in.</summary>
    public static bool IsUnreachable(Exception e) => e is StoreUnavailableException or ConnectionFailedException;

    /// <summary>Logs once that the mount serves cached metadata because the store is unreachable.</summary>
    public void NoticeOffline(Exception e)
    {
        if (Interlocked.Exchange(ref _offlineNoticed, 1) == 0)
        {
            Logger.LogWarning("{Store} unreachable ({Error}): serving cached metadata", Store.Name, e.Message);
        }
    }

    /// <summary>A NotFound error for <paramref name="name"/>.</summary>
    public static FileSystemException NotFound(string name) => new(FsError.NotFound, $"no such file or directory: {name}");
}
