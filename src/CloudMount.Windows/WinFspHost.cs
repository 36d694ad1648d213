using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using CloudMount.Windows.Interop;
using Microsoft.Extensions.Logging;

namespace CloudMount.Windows;

/// <summary>
/// The native side of the WinFsp file system: static <c>[UnmanagedCallersOnly]</c> callbacks in
/// FSP_FILE_SYSTEM_INTERFACE that turn pointers into managed arguments, call <see cref="WinFsAdapter"/> and
/// write its answer back. Read, Write and ReadDirectory, the operations WinFsp lets a file system complete later
/// (winfsp.h 1221-1239), answer STATUS_PENDING when the Vfs has to wait (for the network) and send the answer
/// with FspFileSystemSendResponse from the continuation, so no dispatcher thread waits on the network for data.
/// WinFsp's DLL completes every other operation when its callback returns (its maintainer: "It is not possible to
/// return STATUS_PENDING from the Create or Open callbacks", winfsp issue 547); those wait for the Vfs on the
/// dispatcher thread, bounded by <see cref="WinFsOptions.OperationTimeout"/>, and the mount runs
/// <see cref="DispatcherThreads"/> of them. No exception leaves a callback.
/// </summary>
[SupportedOSPlatform("windows")]
internal sealed partial class WinFspHost
{
    /// <summary>Dispatcher threads: WinFsp's own maximum default, as most waits are short.</summary>
    public const uint DispatcherThreads = 16;

    private readonly WinFspApi _api;
    private readonly WinFsAdapter _adapter;
    private readonly ILogger _logger;
    private readonly Lock _pendingLock = new();
    /// <summary>Answers still to be sent with FspFileSystemSendResponse (guarded by <c>_pendingLock</c>): the file system must outlive them.</summary>
    private int _pending;
    private TaskCompletionSource? _drained;

    public WinFspHost(WinFspApi api, WinFsAdapter adapter, ILogger logger)
    {
        _api = api;
        _adapter = adapter;
        _logger = logger;
    }

    /// <summary>Completes when WinFsp's dispatcher stops (unmount, or the volume went away).</summary>
    public TaskCompletionSource<bool> Stopped { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// The table handed to FspFileSystemCreate; GetEa and SetEa only with <paramref name="extendedAttributes"/>.
    /// Unset entries (reparse points, streams, SetSecurity) are answered by WinFsp as not supported.
    /// </summary>
    public static unsafe FspFileSystemInterface CreateInterface(bool extendedAttributes) => new()
    {
        GetEa = extendedAttributes ? (nint)(delegate* unmanaged[Cdecl]<nint, nint, byte*, uint, uint*, int>)&OnGetEa : 0,
        SetEa = extendedAttributes ? (nint)(delegate* unmanaged[Cdecl]<nint, nint, byte*, uint, FspFileInfo*, int>)&OnSetEa : 0,
        GetVolumeInfo = (nint)(delegate* unmanaged[Cdecl]<nint, FspVolumeInfo*, int>)&OnGetVolumeInfo,
        GetSecurityByName = (nint)(delegate* unmanaged[Cdecl]<nint, char*, uint*, nint, nuint*, int>)&OnGetSecurityByName,
        Create = (nint)(delegate* unmanaged[Cdecl]<nint, char*, uint, uint, uint, nint, ulong, nint*, FspFileInfo*, int>)&OnCreate,
        Open = (nint)(delegate* unmanaged[Cdecl]<nint, char*, uint, uint, nint*, FspFileInfo*, int>)&OnOpen,
        Overwrite = (nint)(delegate* unmanaged[Cdecl]<nint, nint, uint, byte, ulong, FspFileInfo*, int>)&OnOverwrite,
        Cleanup = (nint)(delegate* unmanaged[Cdecl]<nint, nint, char*, uint, void>)&OnCleanup,
        Close = (nint)(delegate* unmanaged[Cdecl]<nint, nint, void>)&OnClose,
        Read = (nint)(delegate* unmanaged[Cdecl]<nint, nint, byte*, ulong, uint, uint*, int>)&OnRead,
        Write = (nint)(delegate* unmanaged[Cdecl]<nint, nint, byte*, ulong, uint, byte, byte, uint*, FspFileInfo*, int>)&OnWrite,
        Flush = (nint)(delegate* unmanaged[Cdecl]<nint, nint, FspFileInfo*, int>)&OnFlush,
        GetFileInfo = (nint)(delegate* unmanaged[Cdecl]<nint, nint, FspFileInfo*, int>)&OnGetFileInfo,
        SetBasicInfo = (nint)(delegate* unmanaged[Cdecl]<nint, nint, uint, ulong, ulong, ulong, ulong, FspFileInfo*, int>)&OnSetBasicInfo,
        SetFileSize = (nint)(delegate* unmanaged[Cdecl]<nint, nint, ulong, byte, FspFileInfo*, int>)&OnSetFileSize,
        CanDelete = (nint)(delegate* unmanaged[Cdecl]<nint, nint, char*, int>)&OnCanDelete,
        Rename = (nint)(delegate* unmanaged[Cdecl]<nint, nint, char*, char*, byte, int>)&OnRename,
        GetSecurity = (nint)(delegate* unmanaged[Cdecl]<nint, nint, nint, nuint*, int>)&OnGetSecurity,
        ReadDirectory = (nint)(delegate* unmanaged[Cdecl]<nint, nint, char*, char*, byte*, uint, uint*, int>)&OnReadDirectory,
        GetDirInfoByName = (nint)(delegate* unmanaged[Cdecl]<nint, nint, char*, FspDirInfo*, int>)&OnGetDirInfoByName,
        SetDelete = (nint)(delegate* unmanaged[Cdecl]<nint, nint, char*, byte, int>)&OnSetDelete,
        DispatcherStopped = (nint)(delegate* unmanaged[Cdecl]<nint, byte, void>)&OnDispatcherStopped,
    };

    private static unsafe WinFspHost Of(nint fileSystem) => (WinFspHost)GCHandle.FromIntPtr(((FspFileSystem*)fileSystem)->UserContext).Target!;

    private static unsafe string? Str(char* s) => s is null ? null : new string(s);

    /// <summary>The answer of an operation WinFsp completes on return: waits for it if the Vfs did not answer at once.</summary>
    private static NtResult<T> Wait<T>(ValueTask<NtResult<T>> operation) =>
        operation.IsCompleted ? operation.Result : operation.AsTask().GetAwaiter().GetResult();

    /// <summary>
    /// For Read, Write and ReadDirectory: the answer now when the Vfs has it, else STATUS_PENDING and the answer
    /// later through FspFileSystemSendResponse, with the Hint of the request this thread is serving.
    /// </summary>
    private unsafe int Complete<T>(nint fileSystem, ValueTask<NtResult<T>> operation, uint kind, Func<NtResult<T>, (int Status, uint Information, FspFileInfo Info)> answer, Action<NtResult<T>> now)
    {
        if (operation.IsCompleted)
        {
            var r = operation.Result;
            now(r);
            return r.Status;
        }
        ulong hint = ((FspTransactHeader*)_api.FileSystemGetOperationContext()->Request)->Hint;
        lock (_pendingLock) _pending++;
        _ = SendLaterAsync(fileSystem, operation, kind, hint, answer);
        return NtStatus.Pending;
    }

    /// <summary>Completes when every late answer has been sent (before the file system is deleted).</summary>
    public Task DrainAsync()
    {
        lock (_pendingLock)
        {
            if (_pending == 0) return Task.CompletedTask;
            return (_drained ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
        }
    }

    private async Task SendLaterAsync<T>(nint fileSystem, ValueTask<NtResult<T>> operation, uint kind, ulong hint, Func<NtResult<T>, (int Status, uint Information, FspFileInfo Info)> answer)
    {
        FspTransactRsp rsp = default;
        try
        {
            var (status, information, info) = answer(await operation.ConfigureAwait(false));
            rsp.Status = status;
            rsp.Information = status >= 0 ? information : 0;
            rsp.WriteFileInfo = info;
        }
        catch (Exception e)
        {
            rsp.Status = NtStatusMap.From(e);
        }
        rsp.Header.Size = FspConstants.TransactRspSize;
        rsp.Header.Kind = kind;
        rsp.Header.Hint = hint;
        SendResponse(fileSystem, rsp);
        TaskCompletionSource? done = null;
        lock (_pendingLock)
        {
            if (--_pending == 0) (done, _drained) = (_drained, null);
        }
        done?.TrySetResult();
    }

    private unsafe void SendResponse(nint fileSystem, FspTransactRsp rsp)
    {
        try
        {
            _api.FileSystemSendResponse(fileSystem, &rsp);
        }
        catch (Exception e)
        {
            _logger.LogError("FspFileSystemSendResponse failed: {Error}", e.Message);
        }
    }

    /// <summary>A span over memory WinFsp owns for the duration of a request.</summary>
    private sealed unsafe class NativeBuffer(byte* pointer, int length) : MemoryManager<byte>
    {
        public override Span<byte> GetSpan() => new(pointer, length);

        public override MemoryHandle Pin(int elementIndex = 0) => new(pointer + elementIndex);

        public override void Unpin()
        {
        }

        protected override void Dispose(bool disposing)
        {
        }
    }

    private static unsafe Memory<byte> Native(byte* pointer, uint length) => new NativeBuffer(pointer, (int)length).Memory;

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnDispatcherStopped(nint fileSystem, byte normally)
    {
        try
        {
            Of(fileSystem).Stopped.TrySetResult(normally != 0);
        }
        catch (Exception)
        {
            // nothing to answer
        }
    }
}
