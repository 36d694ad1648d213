using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using CloudMount.Windows.Interop;

namespace CloudMount.Windows;

/// <summary>The FSP_FILE_SYSTEM_INTERFACE callbacks, one per operation, in the header's order.</summary>
internal sealed partial class WinFspHost
{
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe int OnGetVolumeInfo(nint fileSystem, FspVolumeInfo* volumeInfo)
    {
        try
        {
            *volumeInfo = Of(fileSystem)._adapter.GetVolumeInfo();
            return NtStatus.Success;
        }
        catch (Exception e)
        {
            return NtStatusMap.From(e);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe int OnGetSecurityByName(nint fileSystem, char* fileName, uint* pFileAttributes, nint securityDescriptor, nuint* pSecurityDescriptorSize)
    {
        try
        {
            var r = Wait(Of(fileSystem)._adapter.GetSecurityByNameAsync(Str(fileName)!));
            if (!r.Ok) return r.Status;
            if (pFileAttributes is not null) *pFileAttributes = r.Value.Attributes;
            return PutDescriptor(r.Value.Descriptor, securityDescriptor, pSecurityDescriptorSize);
        }
        catch (Exception e)
        {
            return NtStatusMap.From(e);
        }
    }

    private static unsafe int PutDescriptor(byte[] descriptor, nint buffer, nuint* pSize)
    {
        if (pSize is null) return NtStatus.Success;
        var span = buffer == 0 ? Span<byte>.Empty : new Span<byte>((void*)buffer, (int)Math.Min(*pSize, int.MaxValue));
        int status = WinFsAdapter.CopyDescriptor(descriptor, span, out int size);
        *pSize = (nuint)size;
        return status;
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe int OnCreate(nint fileSystem, char* fileName, uint createOptions, uint grantedAccess, uint fileAttributes, nint securityDescriptor, ulong allocationSize, nint* pFileContext, FspFileInfo* fileInfo)
    {
        try
        {
            var r = Wait(Of(fileSystem)._adapter.CreateAsync(Str(fileName)!, createOptions, grantedAccess, fileAttributes, allocationSize));
            if (r.Ok)
            {
                *pFileContext = (nint)r.Value.Context;
                *fileInfo = r.Value.Info;
            }
            return r.Status;
        }
        catch (Exception e)
        {
            return NtStatusMap.From(e);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe int OnOpen(nint fileSystem, char* fileName, uint createOptions, uint grantedAccess, nint* pFileContext, FspFileInfo* fileInfo)
    {
        try
        {
            var r = Wait(Of(fileSystem)._adapter.OpenAsync(Str(fileName)!, createOptions, grantedAccess));
            if (r.Ok)
            {
                *pFileContext = (nint)r.Value.Context;
                *fileInfo = r.Value.Info;
            }
            return r.Status;
        }
        catch (Exception e)
        {
            return NtStatusMap.From(e);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe int OnOverwrite(nint fileSystem, nint fileContext, uint fileAttributes, byte replaceFileAttributes, ulong allocationSize, FspFileInfo* fileInfo)
    {
        try
        {
            return Info(Wait(Of(fileSystem)._adapter.OverwriteAsync((ulong)fileContext, fileAttributes, replaceFileAttributes != 0, allocationSize)), fileInfo);
        }
        catch (Exception e)
        {
            return NtStatusMap.From(e);
        }
    }

    private static unsafe int Info(NtResult<FspFileInfo> r, FspFileInfo* fileInfo)
    {
        if (r.Ok) *fileInfo = r.Value;
        return r.Status;
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnCleanup(nint fileSystem, nint fileContext, char* fileName, uint flags)
    {
        try
        {
            var work = Of(fileSystem)._adapter.Cleanup((ulong)fileContext, Str(fileName), flags);
            // A delete must be done before another Create may reuse the name; an upload goes on in the background.
            if ((flags & FspCleanupFlags.Delete) != 0) work.GetAwaiter().GetResult();
        }
        catch (Exception)
        {
            // Cleanup has no answer (winfsp.h: no way to report failure); the adapter logged it.
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnClose(nint fileSystem, nint fileContext)
    {
        try
        {
            _ = Of(fileSystem)._adapter.Close((ulong)fileContext);
        }
        catch (Exception)
        {
            // Close has no answer.
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe int OnRead(nint fileSystem, nint fileContext, byte* buffer, ulong offset, uint length, uint* pBytesTransferred)
    {
        try
        {
            var host = Of(fileSystem);
            var op = host._adapter.ReadAsync((ulong)fileContext, (long)offset, Native(buffer, length));
            return host.Complete(fileSystem, op, FspConstants.TransactReadKind,
                r => (r.Status, (uint)r.Value, default), r => *pBytesTransferred = r.Ok ? (uint)r.Value : 0);
        }
        catch (Exception e)
        {
            return NtStatusMap.From(e);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe int OnWrite(nint fileSystem, nint fileContext, byte* buffer, ulong offset, uint length, byte writeToEndOfFile, byte constrainedIo, uint* pBytesTransferred, FspFileInfo* fileInfo)
    {
        try
        {
            var host = Of(fileSystem);
            var op = host._adapter.WriteAsync((ulong)fileContext, (long)offset, Native(buffer, length), writeToEndOfFile != 0, constrainedIo != 0);
            return host.Complete(fileSystem, op, FspConstants.TransactWriteKind,
                r => (r.Status, (uint)r.Value.Written, r.Value.Info),
                r =>
                {
                    if (!r.Ok) return;
                    *pBytesTransferred = (uint)r.Value.Written;
                    *fileInfo = r.Value.Info;
                });
        }
        catch (Exception e)
        {
            return NtStatusMap.From(e);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe int OnFlush(nint fileSystem, nint fileContext, FspFileInfo* fileInfo)
    {
        try
        {
            var r = Wait(Of(fileSystem)._adapter.FlushAsync((ulong)fileContext));
            return fileInfo is null || fileContext == 0 ? r.Status : Info(r, fileInfo);
        }
        catch (Exception e)
        {
            return NtStatusMap.From(e);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe int OnGetFileInfo(nint fileSystem, nint fileContext, FspFileInfo* fileInfo)
    {
        try
        {
            return Info(Wait(Of(fileSystem)._adapter.GetFileInfoAsync((ulong)fileContext)), fileInfo);
        }
        catch (Exception e)
        {
            return NtStatusMap.From(e);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe int OnSetBasicInfo(nint fileSystem, nint fileContext, uint fileAttributes, ulong creationTime, ulong lastAccessTime, ulong lastWriteTime, ulong changeTime, FspFileInfo* fileInfo)
    {
        try
        {
            return Info(Wait(Of(fileSystem)._adapter.SetBasicInfoAsync((ulong)fileContext, fileAttributes, creationTime, lastAccessTime, lastWriteTime, changeTime)), fileInfo);
        }
        catch (Exception e)
        {
            return NtStatusMap.From(e);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe int OnSetFileSize(nint fileSystem, nint fileContext, ulong newSize, byte setAllocationSize, FspFileInfo* fileInfo)
    {
        try
        {
            return Info(Wait(Of(fileSystem)._adapter.SetFileSizeAsync((ulong)fileContext, newSize, setAllocationSize != 0)), fileInfo);
        }
        catch (Exception e)
        {
            return NtStatusMap.From(e);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe int OnCanDelete(nint fileSystem, nint fileContext, char* fileName)
    {
        try
        {
            return Wait(Of(fileSystem)._adapter.CanDeleteAsync((ulong)fileContext, Str(fileName))).Status;
        }
        catch (Exception e)
        {
            return NtStatusMap.From(e);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe int OnRename(nint fileSystem, nint fileContext, char* fileName, char* newFileName, byte replaceIfExists)
    {
        try
        {
            return Wait(Of(fileSystem)._adapter.RenameAsync((ulong)fileContext, Str(fileName)!, Str(newFileName)!, replaceIfExists != 0)).Status;
        }
        catch (Exception e)
        {
            return NtStatusMap.From(e);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe int OnGetSecurity(nint fileSystem, nint fileContext, nint securityDescriptor, nuint* pSecurityDescriptorSize)
    {
        try
        {
            var r = Of(fileSystem)._adapter.GetSecurity((ulong)fileContext);
            return r.Ok ? PutDescriptor(r.Value, securityDescriptor, pSecurityDescriptorSize) : r.Status;
        }
        catch (Exception e)
        {
            return NtStatusMap.From(e);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe int OnReadDirectory(nint fileSystem, nint fileContext, char* pattern, char* marker, byte* buffer, uint length, uint* pBytesTransferred)
    {
        try
        {
            var host = Of(fileSystem);
            var op = host._adapter.ReadDirectoryAsync((ulong)fileContext, Str(pattern), Str(marker), Native(buffer, length));
            return host.Complete(fileSystem, op, FspConstants.TransactQueryDirectoryKind,
                r => (r.Status, (uint)r.Value, default), r => *pBytesTransferred = r.Ok ? (uint)r.Value : 0);
        }
        catch (Exception e)
        {
            return NtStatusMap.From(e);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe int OnGetDirInfoByName(nint fileSystem, nint fileContext, char* fileName, FspDirInfo* dirInfo)
    {
        try
        {
            var r = Wait(Of(fileSystem)._adapter.GetDirInfoByNameAsync((ulong)fileContext, Str(fileName)!));
            if (!r.Ok) return r.Status;
            // WinFsp's buffer holds the header and 255 UTF-16 characters (fsop.c, GetDirInfoByName).
            string name = r.Value.Name.Length <= 255 ? r.Value.Name : throw new NtStatusException(NtStatus.NameTooLong, "name too long");
            dirInfo->Size = (ushort)(DirInfoBuffer.HeaderSize + name.Length * 2);
            dirInfo->FileInfo = r.Value.Info;
            name.AsSpan().CopyTo(new Span<char>((byte*)dirInfo + DirInfoBuffer.HeaderSize, name.Length));
            return NtStatus.Success;
        }
        catch (Exception e)
        {
            return NtStatusMap.From(e);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe int OnSetDelete(nint fileSystem, nint fileContext, char* fileName, byte deleteFile)
    {
        try
        {
            return Wait(Of(fileSystem)._adapter.SetDeleteAsync((ulong)fileContext, Str(fileName), deleteFile != 0)).Status;
        }
        catch (Exception e)
        {
            return NtStatusMap.From(e);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe int OnGetEa(nint fileSystem, nint fileContext, byte* ea, uint eaLength, uint* pBytesTransferred)
    {
        try
        {
            var r = Wait(Of(fileSystem)._adapter.GetEaAsync((ulong)fileContext, Native(ea, eaLength)));
            if (r.Ok) *pBytesTransferred = (uint)r.Value;
            return r.Status;
        }
        catch (Exception e)
        {
            return NtStatusMap.From(e);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe int OnSetEa(nint fileSystem, nint fileContext, byte* ea, uint eaLength, FspFileInfo* fileInfo)
    {
        try
        {
            var list = new ReadOnlySpan<byte>(ea, (int)eaLength).ToArray();
            return Info(Wait(Of(fileSystem)._adapter.SetEaAsync((ulong)fileContext, list)), fileInfo);
        }
        catch (Exception e)
        {
            return NtStatusMap.From(e);
        }
    }
}
