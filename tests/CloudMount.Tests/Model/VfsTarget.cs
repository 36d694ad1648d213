using CloudMount.Core.Storage;
using CloudMount.Core.Storage.Decorators;
using CloudMount.Core.Storage.Memory;
using CloudMount.Core.Vfs;
using CloudMount.Tests.Support;

namespace CloudMount.Tests.Model;

/// <summary>Settings of a Vfs under test.</summary>
/// <param name="PosixAttributes">Mount with <c>--posix-attrs</c> (modes and mtimes stored).</param>
public sealed record VfsConfig(bool PosixAttributes = false)
{
    public override string ToString() => PosixAttributes ? "posix-attrs" : "default";
}

/// <summary>
/// A <see cref="CloudFileSystem"/> over mem://, called only through its public members and in the order the Linux
/// kernel calls a FUSE file system for each syscall: path walks are LOOKUPs (symlinks followed with READLINK),
/// the checks the VFS makes itself (EEXIST for O_EXCL, EISDIR, the rename traps, ...) are made here on the
/// looked-up entries, writes and reads are cut into 128 KiB requests, close is FLUSH then RELEASE (optionally
/// after the next step, as FUSE's asynchronous release allows), and lookup counts are returned with FORGET when
/// a name is removed or caches are dropped. Every call is bounded: a call that does not finish in
/// <see cref="CallTimeout"/> fails the run as a hang.
/// </summary>
public sealed partial class VfsTarget : ITarget, IHasInvariants
{
    public static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(30);
    private const int MaxRequest = 128 * 1024;

    private sealed record Handle(ulong Ino, ulong Fh, bool IsDir, Access Access, bool Append);

    private readonly VfsConfig _config;
    private readonly Dictionary<int, Handle> _fds = [];
    private readonly Dictionary<ulong, long> _lookups = [];           // the kernel's nlookup per inode
    private readonly Dictionary<ulong, ulong> _parentOf = [];         // the dentry tree: a cached dentry pins its parent
    private readonly HashSet<ulong> _forgetAtClose = [];              // removed while open: forgotten at the last release
    private readonly List<ulong> _lateReleases = [];

    public VfsTarget(VfsConfig? config = null, ManualClock? clock = null)
    {
        _config = config ?? new VfsConfig();
        Clock = clock ?? new ManualClock();
        Faults = new FaultyObjectStore(new CountingObjectStore(Backend, Stats));
        Fs = NewFs();
    }

    public string Name => $"vfs ({_config})";

    public MemoryObjectStore Backend { get; } = new("model", minPartBytes: 1 << 20);
    public RequestStats Stats { get; } = new();
    public FaultyObjectStore Faults { get; }
    public ManualClock Clock { get; }
    public string Staging { get; } = Paths.NewDir("model-staging");
    public CloudFileSystem Fs { get; private set; }

    /// <summary>The clock as the model reads it: 100 ns ticks since the epoch.</summary>
    public long NowTicks => Clock.GetUtcNow().UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks;

    private CloudFileSystem NewFs() => new(Faults, new VfsOptions
    {
        StagingDirectory = Staging,
        MetadataTtl = TimeSpan.FromSeconds(5),
        NegativeTtl = TimeSpan.FromSeconds(5),
        PosixAttributes = _config.PosixAttributes,
        Upload = new CloudMount.Core.Writing.UploadOptions(PartBytes: 1 << 20, Concurrency: 2, ThresholdBytes: 2 << 20),
    }, time: Clock);

    private static async Task<T> Bounded<T>(string what, Func<Task<T>> call)
    {
        var task = Task.Run(call);
        if (await Task.WhenAny(task, Task.Delay(CallTimeout)) != task) throw new TargetHangException($"hang: {what} did not finish within {CallTimeout.TotalSeconds:0} s");
        return await task;
    }

    private static Task Bounded(string what, Func<Task> call) => Bounded<object?>(what, async () => { await call(); return null; });

    private static readonly CancellationToken None = CancellationToken.None;

    /// <summary>The errno a Vfs exception becomes in the FUSE adapter; exceptions that are not file-system or store errors are marked.</summary>
    private static Outcome Errno(Exception e)
    {
        if (e is TargetHangException) throw e;
        string errno = ErrnoNames.Of(CloudMount.Linux.FuseErrorMap.ToErrno(FileSystemException.Classify(e)));
        bool expectedType = e is FileSystemException or ObjectStoreException or OperationCanceledException or IOException;
        return Outcome.Err(errno, expectedType ? e.Message : $"!{e.GetType().Name}: {e.Message}");
    }

    private void Took(ulong ino, ulong parent)
    {
        if (ino == CloudFileSystem.RootIno) return;
        _lookups[ino] = _lookups.GetValueOrDefault(ino) + 1;
        _parentOf[ino] = parent;
    }

    /// <summary>Inodes the kernel cannot evict: open ones and every directory above them (a dentry in use pins its parents).</summary>
    private HashSet<ulong> Pinned()
    {
        var pinned = new HashSet<ulong>();
        foreach (var h in _fds.Values)
        {
            for (ulong i = h.Ino; pinned.Add(i) && _parentOf.TryGetValue(i, out var p);) i = p;
        }
        return pinned;
    }

    private bool IsOpen(ulong ino) => _fds.Values.Any(h => h.Ino == ino);

    /// <summary>A name was removed: the kernel drops its dentry and forgets the inode once nothing holds it.</summary>
    private void Removed(ulong ino)
    {
        if (IsOpen(ino)) _forgetAtClose.Add(ino);
        else ForgetAll(ino);
    }

    private void ForgetAll(ulong ino)
    {
        _parentOf.Remove(ino);
        if (_lookups.Remove(ino, out long n) && n > 0) Fs.Forget(ino, (ulong)n);
    }

    // ------------------------------------------------------------------ path walk

    private readonly record struct Walked(string? Errno, ulong Dir, string Name, NodeAttributes? Node, List<ulong> Chain);

    private static Walked Fail(string errno) => new(errno, 0, "", null, []);

    /// <summary>LOOKUP of one name: its attributes, or null when it does not exist; throws for other errors.</summary>
    private async Task<NodeAttributes?> LookupAsync(ulong dir, string name)
    {
        try
        {
            var e = await Bounded($"lookup {name}", () => Fs.LookupAsync(dir, name, None).AsTask());
            Took(e.Attributes.Ino, dir);
            return e.Attributes;
        }
        catch (FileSystemException e) when (e.Error == FsError.NotFound)
        {
            return null;
        }
    }

    private async Task<Walked> WalkAsync(string path, bool follow)
    {
        try
        {
            var links = new int[1];
            return await WalkFromAsync(CloudFileSystem.RootIno, [CloudFileSystem.RootIno], path, follow, links);
        }
        catch (Exception e) when (e is not TargetHangException)
        {
            return new Walked(Errno(e).Errno, 0, "", null, []);
        }
    }

    private async Task<Walked> WalkFromAsync(ulong start, List<ulong> chain, string path, bool follow, int[] links)
    {
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        ulong dir = start;
        chain = [.. chain];
        for (int i = 0; i < parts.Length; i++)
        {
            bool last = i == parts.Length - 1;
            var n = await LookupAsync(dir, parts[i]);
            if (last && !follow) return new(null, dir, parts[i], n, chain);
            if (n is { Kind: NodeKind.Symlink } link)
            {
                if (++links[0] > 40) return Fail("ELOOP");
                string target = await Bounded("readlink", () => Fs.ReadLinkAsync(link.Ino, None).AsTask());
                var t = await WalkFromAsync(dir, chain, target, follow: true, links);
                if (t.Errno is not null || last) return t;
                if (t.Node is null) return Fail("ENOENT");
                n = t.Node;
                chain = t.Chain;
            }
            if (last) return new(null, dir, parts[i], n, chain);
            if (n is null) return Fail("ENOENT");
            if (n.Value.Kind != NodeKind.Directory) return Fail("ENOTDIR");
            dir = n.Value.Ino;
            chain.Add(dir);
        }
        return new(null, dir, "", null, chain);
    }

    /// <summary>The directory a path's last name lives in (every component followed), with its ancestry.</summary>
    private async Task<(string? Errno, ulong Dir, List<ulong> Chain)> ParentAsync(string path)
    {
        string parent = PathsOf.Parent(path);
        if (parent.Length == 0) return (null, CloudFileSystem.RootIno, [CloudFileSystem.RootIno]);
        var w = await WalkAsync(parent, follow: true);
        if (w.Errno is not null) return (w.Errno, 0, []);
        if (w.Node is null) return ("ENOENT", 0, []);
        if (w.Node.Value.Kind != NodeKind.Directory) return ("ENOTDIR", 0, []);
        return (null, w.Node.Value.Ino, [.. w.Chain, w.Node.Value.Ino]);
    }

    private static char KindChar(NodeKind k) => k switch { NodeKind.Directory => 'd', NodeKind.Symlink => 'l', _ => 'f' };

    public async Task<char?> KindAsync(string path, bool follow)
    {
        var w = await WalkAsync(path, follow);
        return w.Errno is null && w.Node is { } n ? KindChar(n.Kind) : null;
    }

    // ------------------------------------------------------------------ ops

    public async Task<Outcome> RunAsync(Op op)
    {
        if (op is RemountOp)
        {
            // The kernel queues a late RELEASE before the unmount's DESTROY; a release racing the unmount is the
            // adapter's to order (the mount-level unmount tests cover it).
            foreach (var fh in _lateReleases) await ReleaseAsync(fh);
            _lateReleases.Clear();
        }
        var late = _lateReleases.ToList();
        _lateReleases.Clear();
        Outcome result;
        try
        {
            result = await RunOneAsync(op);
        }
        finally
        {
            foreach (var fh in late) await ReleaseAsync(fh);
        }
        return result;
    }

    private async Task ReleaseAsync(ulong fh)
    {
        await Bounded("release", () => Fs.ReleaseAsync(fh).AsTask());
    }

    private async Task<Outcome> RunOneAsync(Op op)
    {
        try
        {
            return op switch
            {
                OpenOp o => await OpenAsync(o),
                WriteOp w => await WriteAsync(w),
                ReadOp r => await ReadAsync(r),
                TruncateOp t => await TruncateAsync(t),
                FtruncateOp f => await FtruncateAsync(f),
                FsyncOp s => await FsyncAsync(s),
                CloseOp c => await CloseAsync(c.Slot, c.LateRelease),
                UnlinkOp u => await UnlinkAsync(u),
                MkdirOp m => await MkdirAsync(m),
                RmdirOp d => await RmdirAsync(d),
                RenameOp rn => await RenameAsync(rn),
                SymlinkOp s => await SymlinkAsync(s),
                ReadlinkOp rl => await ReadlinkAsync(rl),
                StatOp st => await StatAsync(st),
                UtimensOp ut => await UtimensAsync(ut),
                ChmodOp ch => await ChmodAsync(ch),
                SetXattrOp or GetXattrOp or ListXattrOp or RemoveXattrOp => await XattrAsync(op),
                ReaddirOp rd => await ReaddirOpAsync(rd),
                CatOp cat => await CatAsync(cat),
                TickOp => Tick(),
                DropCachesOp => DropCaches(),
                RemountOp => await RemountAsync(),
                _ => throw new ArgumentException($"vfs target: op {op} is not for this level"),
            };
        }
        catch (Exception e) when (e is not TargetHangException)
        {
            return Errno(e);
        }
    }

    private Outcome Tick()
    {
        Clock.Advance(TimeSpan.FromSeconds(6));
        return Outcome.Ok;
    }

    private Outcome DropCaches()
    {
        var pinned = Pinned();
        foreach (var ino in _lookups.Keys.ToList())
        {
            if (!pinned.Contains(ino)) ForgetAll(ino);
        }
        return Outcome.Ok;
    }

    private async Task<Outcome> RemountAsync()
    {
        var failures = new List<string>();
        foreach (int slot in _fds.Keys.Order().ToList())
        {
            var r = await CloseAsync(slot, late: false);
            if (!r.IsOk) failures.Add($"close fd{slot}: {r.Errno}");
        }
        foreach (var fh in _lateReleases) await ReleaseAsync(fh);
        _lateReleases.Clear();
        CheckInodesReleased("before a remount");
        await Bounded("unmount", () => Fs.DisposeAsync().AsTask());
        _lookups.Clear();
        _parentOf.Clear();
        _forgetAtClose.Clear();
        Fs = NewFs();
        return failures.Count == 0 ? Outcome.Ok : Outcome.Err("EIO", string.Join("; ", failures));
    }

    private readonly List<string> _violations = [];

    /// <summary>After everything is closed and forgotten only the root may stay in the inode table.</summary>
    private void CheckInodesReleased(string when)
    {
        DropCaches();
        if (_fds.Count == 0 && Fs.InodeCount != 1) _violations.Add($"{when}: {Fs.InodeCount - 1} inodes stay in the table after every lookup was forgotten and every file closed");
    }

    /// <summary>No staging file left behind once every upload succeeded, and no inode kept that nothing references.</summary>
    public Task<List<string>> CheckInvariantsAsync()
    {
        CheckInodesReleased("at the end");
        foreach (var f in Directory.EnumerateFiles(Staging).Where(f => Path.GetFileName(f) != ".lock"))
        {
            _violations.Add($"staging file {Path.GetFileName(f)} left behind ({new FileInfo(f).Length} B) although every close succeeded");
        }
        return Task.FromResult(_violations.ToList());
    }

    public async Task CloseAllAsync()
    {
        foreach (int slot in _fds.Keys.Order().ToList()) await CloseAsync(slot, late: false);
        foreach (var fh in _lateReleases) await ReleaseAsync(fh);
        _lateReleases.Clear();
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await CloseAllAsync();
        }
        catch (Exception)
        {
            // The run already failed; dispose what can be disposed.
        }
        await Fs.DisposeAsync();
    }
}
