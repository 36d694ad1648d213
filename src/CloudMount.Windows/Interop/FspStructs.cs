using System.Runtime.InteropServices;

namespace CloudMount.Windows.Interop;

// The layouts of WinFsp 2025 (v2.1) inc/winfsp/fsctl.h and inc/winfsp/winfsp.h on x64/arm64 (8-byte pointers,
// MSVC bitfield packing). Every size and offset is checked by tests/CloudMount.Tests/Interop/WinFspLayoutTests.cs
// against the values of those headers, with their line numbers. These structs are plain data: the adapter's
// logic fills FileInfo and DirInfo on any platform (and the tests read them back), only the calls are Windows'.

/// <summary>FSP_FSCTL_VOLUME_PARAMS (fsctl.h 192-267): how the volume presents itself; 504 bytes (Version = 504).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct FspVolumeParams
{
    public ushort Version;
    public ushort SectorSize;
    public ushort SectorsPerAllocationUnit;
    public ushort MaxComponentLength;
    public ulong VolumeCreationTime;
    public uint VolumeSerialNumber;
    public uint TransactTimeout;
    public uint IrpTimeout;
    public uint IrpCapacity;
    public uint FileInfoTimeout;
    /// <summary>The bitfield word from CaseSensitiveSearch to KmReservedFlags: see <see cref="FspVolumeFlags"/>.</summary>
    public uint Flags;
    public fixed char Prefix[192];
    public fixed char FileSystemName[16];
    /// <summary>The V1 bitfield word from VolumeInfoTimeoutValid to KmAdditionalReservedFlags: see <see cref="FspVolumeFlags"/>.</summary>
    public uint AdditionalFlags;
    public uint VolumeInfoTimeout;
    public uint DirInfoTimeout;
    public uint SecurityTimeout;
    public uint StreamInfoTimeout;
    public uint EaTimeout;
    public uint FsextControlCode;
    public uint Reserved32;
    public fixed ulong Reserved64[2];
}

/// <summary>Bits of <see cref="FspVolumeParams.Flags"/> and <see cref="FspVolumeParams.AdditionalFlags"/>, in declaration order (fsctl.h 206-236, 241-246).</summary>
internal static class FspVolumeFlags
{
    public const uint CaseSensitiveSearch = 1u << 0;
    public const uint CasePreservedNames = 1u << 1;
    public const uint UnicodeOnDisk = 1u << 2;
    public const uint PersistentAcls = 1u << 3;
    public const uint ReparsePoints = 1u << 4;
    public const uint ReparsePointsAccessCheck = 1u << 5;
    public const uint NamedStreams = 1u << 6;
    public const uint HardLinks = 1u << 7;
    public const uint ExtendedAttributes = 1u << 8;
    public const uint ReadOnlyVolume = 1u << 9;
    public const uint PostCleanupWhenModifiedOnly = 1u << 10;
    public const uint PassQueryDirectoryPattern = 1u << 11;
    public const uint AlwaysUseDoubleBuffering = 1u << 12;
    public const uint PassQueryDirectoryFileName = 1u << 13;
    public const uint FlushAndPurgeOnCleanup = 1u << 14;
    public const uint DeviceControl = 1u << 15;
    public const uint UmFileContextIsUserContext2 = 1u << 16;
    public const uint UmFileContextIsFullContext = 1u << 17;
    public const uint UmNoReparsePointsDirCheck = 1u << 18;
    // UmReservedFlags: bits 19-23
    public const uint AllowOpenInKernelMode = 1u << 24;
    public const uint CasePreservedExtendedAttributes = 1u << 25;
    public const uint WslFeatures = 1u << 26;
    public const uint DirectoryMarkerAsNextOffset = 1u << 27;
    public const uint RejectIrpPriorToTransact0 = 1u << 28;
    public const uint SupportsPosixUnlinkRename = 1u << 29;
    public const uint PostDispositionWhenNecessaryOnly = 1u << 30;

    public const uint VolumeInfoTimeoutValid = 1u << 0;
    public const uint DirInfoTimeoutValid = 1u << 1;
    public const uint SecurityTimeoutValid = 1u << 2;
    public const uint StreamInfoTimeoutValid = 1u << 3;
    public const uint EaTimeoutValid = 1u << 4;
}

/// <summary>FSP_FSCTL_VOLUME_INFO (fsctl.h 268-274): sizes and label; 88 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct FspVolumeInfo
{
    public ulong TotalSize;
    public ulong FreeSize;
    /// <summary>Label length in bytes.</summary>
    public ushort VolumeLabelLength;
    public fixed char VolumeLabel[32];
}

/// <summary>FSP_FSCTL_FILE_INFO (fsctl.h 277-290): what GetFileInfo and friends answer; 72 bytes. Times are FILETIME (100 ns since 1601).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FspFileInfo
{
    public uint FileAttributes;
    public uint ReparseTag;
    public ulong AllocationSize;
    public ulong FileSize;
    public ulong CreationTime;
    public ulong LastAccessTime;
    public ulong LastWriteTime;
    public ulong ChangeTime;
    public ulong IndexNumber;
    public uint HardLinks;
    public uint EaSize;
}

/// <summary>
/// FSP_FSCTL_DIR_INFO (fsctl.h 299-310) without its trailing name: 104 bytes, followed by the UTF-16 name
/// (no terminator); <see cref="Size"/> counts both.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct FspDirInfo
{
    public ushort Size;
    public FspFileInfo FileInfo;
    /// <summary>The union of NextOffset (UINT64) and Padding[24].</summary>
    public fixed byte Padding[24];
}

/// <summary>The header FSP_FSCTL_TRANSACT_REQ and FSP_FSCTL_TRANSACT_RSP share (fsctl.h 343-346, 543-546): 16 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FspTransactHeader
{
    public ushort Version;
    public ushort Size;
    public uint Kind;
    /// <summary>Identifies the request (the IRP) a response completes.</summary>
    public ulong Hint;
}

/// <summary>
/// The start of FSP_FSCTL_TRANSACT_RSP (fsctl.h 541-633) as far as a late answer to Read, Write or
/// ReadDirectory needs it: header, IoStatus and the Write answer's FileInfo; the union is 104 bytes, so the
/// whole is 128 (<see cref="FspConstants.TransactRspSize"/>).
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = 128)]
internal struct FspTransactRsp
{
    public FspTransactHeader Header;
    /// <summary>IoStatus.Information: bytes transferred.</summary>
    public uint Information;
    /// <summary>IoStatus.Status: the NTSTATUS.</summary>
    public int Status;
    /// <summary>Rsp.Write.FileInfo (also Rsp.QueryInformation.FileInfo): the file after the write.</summary>
    public FspFileInfo WriteFileInfo;
}

/// <summary>FSP_FILE_SYSTEM_OPERATION_CONTEXT (winfsp.h 1122-1126): the request and response the current dispatcher thread serves.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FspOperationContext
{
    public nint Request;
    public nint Response;
}

/// <summary>
/// FSP_FILE_SYSTEM (winfsp.h 1096-1117): the file system object FspFileSystemCreate returns; 792 bytes. We
/// write only <see cref="UserContext"/> (our GCHandle) and read nothing else; the rest is declared so the
/// layout test checks the size the header asserts.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct FspFileSystem
{
    public ushort Version;
    public nint UserContext;
    public fixed char VolumeName[256];
    public nint VolumeHandle;
    public nint EnterOperation;
    public nint LeaveOperation;
    public fixed ulong Operations[FspConstants.TransactKindCount];
    public nint Interface;
    public nint DispatcherThread;
    public uint DispatcherThreadCount;
    public int DispatcherResult;
    public nint MountPoint;
    public nint MountHandle;
    public uint DebugLog;
    public int OpGuardStrategy;
    public nint OpGuardLock;
    public byte UmFileContextIsUserContext2;
    public byte UmFileContextIsFullContext;
    public ushort UmFlags;
}

/// <summary>
/// FSP_FILE_SYSTEM_INTERFACE (winfsp.h 193-1093): 64 function pointers, in the header's order; unset ones are 0
/// (WinFsp then answers STATUS_INVALID_DEVICE_REQUEST).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct FspFileSystemInterface
{
    public nint GetVolumeInfo;
    public nint SetVolumeLabel;
    public nint GetSecurityByName;
    public nint Create;
    public nint Open;
    public nint Overwrite;
    public nint Cleanup;
    public nint Close;
    public nint Read;
    public nint Write;
    public nint Flush;
    public nint GetFileInfo;
    public nint SetBasicInfo;
    public nint SetFileSize;
    public nint CanDelete;
    public nint Rename;
    public nint GetSecurity;
    public nint SetSecurity;
    public nint ReadDirectory;
    public nint ResolveReparsePoints;
    public nint GetReparsePoint;
    public nint SetReparsePoint;
    public nint DeleteReparsePoint;
    public nint GetStreamInfo;
    public nint GetDirInfoByName;
    public nint Control;
    public nint SetDelete;
    public nint CreateEx;
    public nint OverwriteEx;
    public nint GetEa;
    public nint SetEa;
    public nint Obsolete0;
    public nint DispatcherStopped;
    public fixed ulong Reserved[31];
}
