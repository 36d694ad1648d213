using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace CloudMount.Windows.Interop;

/// <summary>
/// The WinFsp DLL functions we call, bound by name from the module <see cref="WinFspLoader"/> loaded (the DLL's
/// path is only known at run time, so these are function pointers from <see cref="NativeLibrary.GetExport"/>,
/// not [LibraryImport]s: AOT- and trim-safe). Signatures as in winfsp.h (v2.1, lines named at each); all return
/// an NTSTATUS unless void. FSP_API functions use the C calling convention.
/// </summary>
[SupportedOSPlatform("windows")]
internal sealed unsafe class WinFspApi
{
    /// <summary>FspFileSystemCreate (winfsp.h 1157): DevicePath, VolumeParams, Interface, out FSP_FILE_SYSTEM*.</summary>
    public readonly delegate* unmanaged[Cdecl]<char*, FspVolumeParams*, FspFileSystemInterface*, nint*, int> FileSystemCreate;
    /// <summary>FspFileSystemDelete (winfsp.h 1167).</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, void> FileSystemDelete;
    /// <summary>FspFileSystemSetMountPoint (winfsp.h 1187): "X:", a directory that does not exist yet, or NULL for the next free drive letter.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, char*, int> FileSystemSetMountPoint;
    /// <summary>FspFileSystemRemoveMountPoint (winfsp.h 1196).</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, void> FileSystemRemoveMountPoint;
    /// <summary>FspFileSystemStartDispatcher (winfsp.h 1212): thread count (0 = WinFsp's default).</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, uint, int> FileSystemStartDispatcher;
    /// <summary>FspFileSystemStopDispatcher (winfsp.h 1219).</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, void> FileSystemStopDispatcher;
    /// <summary>FspFileSystemSendResponse (winfsp.h 1240): completes a request answered STATUS_PENDING.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, FspTransactRsp*, void> FileSystemSendResponse;
    /// <summary>FspFileSystemGetOperationContext (winfsp.h 1318): the request the calling dispatcher thread serves.</summary>
    public readonly delegate* unmanaged[Cdecl]<FspOperationContext*> FileSystemGetOperationContext;
    /// <summary>FspPosixMapPermissionsToSecurityDescriptor (winfsp.h 1898): uid, gid, mode to a self-relative descriptor.</summary>
    public readonly delegate* unmanaged[Cdecl]<uint, uint, uint, nint*, int> PosixMapPermissionsToSecurityDescriptor;
    /// <summary>FspPosixMapSidToUid (winfsp.h 1896).</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, uint*, int> PosixMapSidToUid;
    /// <summary>FspDeleteSecurityDescriptor (winfsp.h 1877): frees a descriptor, naming the function that made it.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, nint, void> DeleteSecurityDescriptor;
    /// <summary>FspVersion (winfsp.h 2180): major in the high 16 bits, minor in the low.</summary>
    public readonly delegate* unmanaged[Cdecl]<uint*, int> Version;

    /// <summary>The address of FspPosixMapPermissionsToSecurityDescriptor, which FspDeleteSecurityDescriptor takes.</summary>
    public readonly nint PosixMapPermissionsAddress;

    /// <summary>Binds every function from <paramref name="module"/>.</summary>
    /// <exception cref="EntryPointNotFoundException">The DLL lacks one (a WinFsp older than the API we bind).</exception>
    public WinFspApi(nint module)
    {
        nint Get(string name) => NativeLibrary.GetExport(module, name);
        FileSystemCreate = (delegate* unmanaged[Cdecl]<char*, FspVolumeParams*, FspFileSystemInterface*, nint*, int>)Get("FspFileSystemCreate");
        FileSystemDelete = (delegate* unmanaged[Cdecl]<nint, void>)Get("FspFileSystemDelete");
        FileSystemSetMountPoint = (delegate* unmanaged[Cdecl]<nint, char*, int>)Get("FspFileSystemSetMountPoint");
        FileSystemRemoveMountPoint = (delegate* unmanaged[Cdecl]<nint, void>)Get("FspFileSystemRemoveMountPoint");
        FileSystemStartDispatcher = (delegate* unmanaged[Cdecl]<nint, uint, int>)Get("FspFileSystemStartDispatcher");
        FileSystemStopDispatcher = (delegate* unmanaged[Cdecl]<nint, void>)Get("FspFileSystemStopDispatcher");
        FileSystemSendResponse = (delegate* unmanaged[Cdecl]<nint, FspTransactRsp*, void>)Get("FspFileSystemSendResponse");
        FileSystemGetOperationContext = (delegate* unmanaged[Cdecl]<FspOperationContext*>)Get("FspFileSystemGetOperationContext");
        PosixMapPermissionsAddress = Get("FspPosixMapPermissionsToSecurityDescriptor");
        PosixMapPermissionsToSecurityDescriptor = (delegate* unmanaged[Cdecl]<uint, uint, uint, nint*, int>)PosixMapPermissionsAddress;
        PosixMapSidToUid = (delegate* unmanaged[Cdecl]<nint, uint*, int>)Get("FspPosixMapSidToUid");
        DeleteSecurityDescriptor = (delegate* unmanaged[Cdecl]<nint, nint, void>)Get("FspDeleteSecurityDescriptor");
        Version = (delegate* unmanaged[Cdecl]<uint*, int>)Get("FspVersion");
    }
}

/// <summary>The advapi32 functions the security setup needs (Windows SDK securitybaseapi.h).</summary>
[SupportedOSPlatform("windows")]
internal static unsafe partial class Advapi32
{
    /// <summary>GetCurrentProcessToken(): the pseudo-handle -4 (processthreadsapi.h), usable with GetTokenInformation.</summary>
    public static readonly nint CurrentProcessToken = -4;

    /// <summary>TOKEN_INFORMATION_CLASS TokenUser.</summary>
    public const int TokenUser = 1;

    /// <summary>TOKEN_INFORMATION_CLASS TokenPrimaryGroup.</summary>
    public const int TokenPrimaryGroup = 5;

    /// <summary>Returns non-zero on success; the length of a self-relative descriptor.</summary>
    [LibraryImport("advapi32.dll")]
    public static partial uint GetSecurityDescriptorLength(nint securityDescriptor);

    /// <summary>Returns non-zero on success (GetLastError otherwise).</summary>
    [LibraryImport("advapi32.dll", SetLastError = true)]
    public static partial int GetTokenInformation(nint token, int informationClass, void* information, uint length, out uint returnLength);
}
