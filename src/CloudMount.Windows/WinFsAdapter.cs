using System.Collections.Concurrent;
using CloudMount.Core.Vfs;
using CloudMount.Windows.Interop;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CloudMount.Windows;

/// <summary>An NTSTATUS and, on success, the value an operation answers with.</summary>
internal readonly record struct NtResult<T>(int Status, T Value)
{
    public bool Ok => Status >= 0;
}

/// <summary>Security descriptors (self-relative, as GetSecurityByName returns them) for files and for directories.</summary>
/// <param name="File">The descriptor of every file (from --uid, --gid, --file-mode).</param>
/// <param name="Directory">The descriptor of every directory (from --uid, --gid, --dir-mode).</param>
internal sealed record SecurityDescriptors(byte[] File, byte[] Directory);

/// <summary>Settings of the Windows view of a mount.</summary>
internal sealed record WinFsOptions
{
    public required SecurityDescriptors Security { get; init; }

    /// <summary>The volume label Explorer shows (at most 32 characters).</summary>
    public string VolumeLabel { get; init; } = "cloudmount";

    /// <summary>
    /// The bound on one operation that WinFsp makes us answer before the dispatcher thread goes on (all but Read,
    /// Write and ReadDirectory): below WinFsp's IRP timeout (5 minutes), so the answer is ours, STATUS_IO_TIMEOUT.
    /// </summary>
    public TimeSpan OperationTimeout { get; init; } = TimeSpan.FromMinutes(2);
}

/// <summary>
/// The WinFsp file system's logic over the Vfs, free of native calls: each WinFsp operation as a method taking
/// managed arguments (Windows paths, flags, buffers as spans) and answering an NTSTATUS with the data WinFsp
/// expects (FSP_FSCTL_FILE_INFO, packed DIR_INFO, security descriptor bytes). The native host
/// (<see cref="WinFspHost"/>) only converts pointers and completes requests; tests drive this class directly
/// through the sequences Windows issues. Every failure is an NTSTATUS from <see cref="NtStatusMap"/>; no
/// exception leaves a public method.
/// </summary>
/// <remarks>
/// Owners: <see cref="NodeTable"/> holds every lookup reference; <c>_handles</c> maps WinFsp's file contexts to
/// <see cref="WinHandle"/>s (a context unknown here is STATUS_INVALID_HANDLE, never a crash); the background
/// work of Cleanup is counted in <c>_background</c> so unmount can wait for it.
/// </remarks>
internal sealed partial class WinFsAdapter
{
    private readonly CloudFileSystem _fs;
    private readonly WinFsOptions _options;
    private readonly ILogger _logger;
    private readonly CancellationToken _shutdown;
    private readonly ConcurrentDictionary<ulong, WinHandle> _handles = new();
    private readonly Lock _backgroundLock = new();
    private int _background;
    private TaskCompletionSource? _drained;
    private long _nextHandle;

    public WinFsAdapter(CloudFileSystem fs, WinFsOptions options, ILogger? logger = null, CancellationToken shutdown = default)
    {
        _fs = fs;
        _options = options;
        _logger = logger ?? NullLogger.Instance;
        _shutdown = shutdown;
        Nodes = new NodeTable(fs);
    }

    /// <summary>The path tree (one owner of lookup references).</summary>
    public NodeTable Nodes { get; }

    /// <summary>Open Windows handles (for tests: Close must bring this back to zero).</summary>
    public int HandleCount => _handles.Count;

    private bool ReadOnly => _fs.Options.ReadOnly;

    /// <summary>Runs one operation to its NTSTATUS, bounded by <see cref="WinFsOptions.OperationTimeout"/>.</summary>
    private async ValueTask<NtResult<T>> Run<T>(string what, Func<CancellationToken, ValueTask<T>> operation)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_shutdown);
        timeout.CancelAfter(_options.OperationTimeout);
        try
        {
            return new NtResult<T>(NtStatus.Success, await operation(timeout.Token).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !_shutdown.IsCancellationRequested)
        {
            _logger.LogWarning("{Operation}: no answer within {Seconds:0} s", what, _options.OperationTimeout.TotalSeconds);
            return new NtResult<T>(NtStatus.IoTimeout, default!);
        }
        catch (Exception e)
        {
            return new NtResult<T>(Report(what, e), default!);
        }
    }

    private int Report(string what, Exception e)
    {
        int status = NtStatusMap.From(e);
        if (status == NtStatus.IoDeviceError) _logger.LogWarning("{Operation}: {Error}", what, e.Message);
        else _logger.LogDebug("{Operation}: 0x{Status:x8} ({Message})", what, status, e.Message);
        return status;
    }

    private WinHandle Handle(ulong context) =>
        _handles.TryGetValue(context, out var h) ? h : throw new NtStatusException(NtStatus.InvalidHandle, $"unknown file context {context}");

    private WinHandle NewHandle(PathNode node, bool canWrite)
    {
        var h = new WinHandle((ulong)Interlocked.Increment(ref _nextHandle), node, canWrite);
        _handles[h.Id] = h;
        return h;
    }

    private async ValueTask<FspFileInfo> InfoAsync(PathNode node, CancellationToken ct)
    {
        var attrs = await _fs.GetAttrAsync(node.Ino, ct).ConfigureAwait(false);
        return FileInfoMapper.ToFileInfo(attrs, ReadOnly);
    }

    private static bool Grants(uint access, uint rights) => (access & rights) != 0;

    // ------------------------------------------------------------------ volume and security

    /// <summary>GetVolumeInfo: the Vfs's totals (object stores have no real capacity) and the label.</summary>
    public FspVolumeInfo GetVolumeInfo()
    {
        var s = CloudFileSystem.StatFs();
        var info = new FspVolumeInfo { TotalSize = s.Blocks * s.BlockSize, FreeSize = s.FreeBlocks * s.BlockSize };
        string label = _options.VolumeLabel.Length > 32 ? _options.VolumeLabel[..32] : _options.VolumeLabel;
        SetLabel(ref info, label);
        info.VolumeLabelLength = (ushort)(label.Length * 2);
        return info;
    }

    private static unsafe void SetLabel(ref FspVolumeInfo info, string label)
    {
        for (int i = 0; i < label.Length; i++) info.VolumeLabel[i] = label[i];
    }

    /// <summary>The descriptor of a node.</summary>
    public byte[] SecurityOf(NodeKind kind) => kind == NodeKind.Directory ? _options.Security.Directory : _options.Security.File;

    /// <summary>
    /// GetSecurityByName: the attributes and security descriptor of a path, without opening it (WinFsp's access
    /// check before every open). A buffer smaller than the descriptor is STATUS_BUFFER_OVERFLOW with the size needed.
    /// </summary>
    public ValueTask<NtResult<(uint Attributes, byte[] Descriptor)>> GetSecurityByNameAsync(string path) =>
        Run("GetSecurityByName " + path, async ct =>
        {
            var node = await Nodes.ResolveAsync(NodeTable.Split(path), ct).ConfigureAwait(false);
            try
            {
                var info = await InfoAsync(node, ct).ConfigureAwait(false);
                return (info.FileAttributes, SecurityOf(node.Kind));
            }
            finally
            {
                Nodes.Unpin(node);
            }
        });

    /// <summary>GetSecurity: the descriptor of an open file or directory.</summary>
    public NtResult<byte[]> GetSecurity(ulong context)
    {
        if (!_handles.TryGetValue(context, out var h)) return new(NtStatus.InvalidHandle, []);
        return new(NtStatus.Success, SecurityOf(h.Node.Kind));
    }

    /// <summary>Copies <paramref name="descriptor"/> into a caller's buffer: STATUS_BUFFER_OVERFLOW when it is too small; <paramref name="size"/> is set to the size needed either way.</summary>
    public static int CopyDescriptor(byte[] descriptor, Span<byte> buffer, out int size)
    {
        size = descriptor.Length;
        if (buffer.Length < descriptor.Length) return NtStatus.BufferOverflow;
        descriptor.CopyTo(buffer);
        return NtStatus.Success;
    }

    // ------------------------------------------------------------------ background work of Cleanup

    /// <summary>Counts a piece of work that outlives its request (an upload after Cleanup), logging its failure.</summary>
    private Task Track(Task work, string what)
    {
        lock (_backgroundLock) _background++;
        return Finish();

        async Task Finish()
        {
            try
            {
                await work.ConfigureAwait(false);
            }
            catch (Exception e)
            {
                Report(what, e);
            }
            finally
            {
                TaskCompletionSource? done = null;
                lock (_backgroundLock)
                {
                    if (--_background == 0) (done, _drained) = (_drained, null);
                }
                done?.TrySetResult();
            }
        }
    }

    /// <summary>Completes when no work started by Cleanup or Close is still running (at unmount, and in tests).</summary>
    public Task DrainAsync()
    {
        lock (_backgroundLock)
        {
            if (_background == 0) return Task.CompletedTask;
            return (_drained ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
        }
    }
}
