using System.Runtime.InteropServices;
using CloudMount.Windows;
using CloudMount.Windows.Interop;

namespace CloudMount.Tests.Interop;

/// <summary>
/// Checks every struct size, field offset, bitfield bit and constant of our WinFsp binding against the values of
/// WinFsp 2025 (v2.1, tag v2.1, commit ddca7bd5) headers inc/winfsp/fsctl.h and inc/winfsp/winfsp.h, x64.
/// WinFsp's headers cannot be compiled here (they need the Windows SDK and are GPLv3, so not in this repository);
/// the numbers below were taken once by compiling those headers with mingw-w64 gcc 12 for x86_64-w64-mingw32
/// (MSVC layout and bitfield packing) with WINFSP_DLL_INTERNAL, which turns on the header's own static_asserts
/// (fsctl.h 259, 266, 275, 291, 311; winfsp.h 1095, 1118), and reading offsetof/sizeof from the object file.
/// Header lines are given per struct; the NTSTATUS and Windows constants are those of the SDK's ntstatus.h and
/// winnt.h as mingw-w64 ships them ([MS-ERREF] 2.3.1 lists the same values).
/// </summary>
public sealed class WinFspLayoutTests
{
    private static readonly (string C, Type Managed, int Size, string Lines)[] Sizes =
    [
        ("FSP_FSCTL_VOLUME_PARAMS", typeof(FspVolumeParams), 504, "fsctl.h 192-267"),
        ("FSP_FSCTL_VOLUME_INFO", typeof(FspVolumeInfo), 88, "fsctl.h 268-276"),
        ("FSP_FSCTL_FILE_INFO", typeof(FspFileInfo), 72, "fsctl.h 277-292"),
        ("FSP_FSCTL_DIR_INFO", typeof(FspDirInfo), 104, "fsctl.h 299-312"),
        ("FSP_FSCTL_TRANSACT_RSP", typeof(FspTransactRsp), 128, "fsctl.h 541-633"),
        ("FSP_FILE_SYSTEM", typeof(FspFileSystem), 792, "winfsp.h 1096-1121"),
        ("FSP_FILE_SYSTEM_INTERFACE", typeof(FspFileSystemInterface), 512, "winfsp.h 193-1095"),
        ("FSP_FILE_SYSTEM_OPERATION_CONTEXT", typeof(FspOperationContext), 16, "winfsp.h 1122-1126"),
    ];

    private static readonly (string C, Type Managed, string Field, int Offset)[] Offsets =
    [
        ("FSP_FSCTL_VOLUME_PARAMS.Version", typeof(FspVolumeParams), "Version", 0),
        ("FSP_FSCTL_VOLUME_PARAMS.SectorSize", typeof(FspVolumeParams), "SectorSize", 2),
        ("FSP_FSCTL_VOLUME_PARAMS.SectorsPerAllocationUnit", typeof(FspVolumeParams), "SectorsPerAllocationUnit", 4),
        ("FSP_FSCTL_VOLUME_PARAMS.MaxComponentLength", typeof(FspVolumeParams), "MaxComponentLength", 6),
        ("FSP_FSCTL_VOLUME_PARAMS.VolumeCreationTime", typeof(FspVolumeParams), "VolumeCreationTime", 8),
        ("FSP_FSCTL_VOLUME_PARAMS.VolumeSerialNumber", typeof(FspVolumeParams), "VolumeSerialNumber", 16),
        ("FSP_FSCTL_VOLUME_PARAMS.TransactTimeout", typeof(FspVolumeParams), "TransactTimeout", 20),
        ("FSP_FSCTL_VOLUME_PARAMS.IrpTimeout", typeof(FspVolumeParams), "IrpTimeout", 24),
        ("FSP_FSCTL_VOLUME_PARAMS.IrpCapacity", typeof(FspVolumeParams), "IrpCapacity", 28),
        ("FSP_FSCTL_VOLUME_PARAMS.FileInfoTimeout", typeof(FspVolumeParams), "FileInfoTimeout", 32),
        ("FSP_FSCTL_VOLUME_PARAMS.Prefix", typeof(FspVolumeParams), "Prefix", 40),
        ("FSP_FSCTL_VOLUME_PARAMS.FileSystemName", typeof(FspVolumeParams), "FileSystemName", 424),
        ("FSP_FSCTL_VOLUME_PARAMS.VolumeInfoTimeout", typeof(FspVolumeParams), "VolumeInfoTimeout", 460),
        ("FSP_FSCTL_VOLUME_PARAMS.DirInfoTimeout", typeof(FspVolumeParams), "DirInfoTimeout", 464),
        ("FSP_FSCTL_VOLUME_PARAMS.SecurityTimeout", typeof(FspVolumeParams), "SecurityTimeout", 468),
        ("FSP_FSCTL_VOLUME_PARAMS.StreamInfoTimeout", typeof(FspVolumeParams), "StreamInfoTimeout", 472),
        ("FSP_FSCTL_VOLUME_PARAMS.EaTimeout", typeof(FspVolumeParams), "EaTimeout", 476),
        ("FSP_FSCTL_VOLUME_PARAMS.FsextControlCode", typeof(FspVolumeParams), "FsextControlCode", 480),
        ("FSP_FSCTL_VOLUME_PARAMS.Reserved32", typeof(FspVolumeParams), "Reserved32", 484),
        ("FSP_FSCTL_VOLUME_PARAMS.Reserved64", typeof(FspVolumeParams), "Reserved64", 488),
        ("FSP_FSCTL_VOLUME_INFO.TotalSize", typeof(FspVolumeInfo), "TotalSize", 0),
        ("FSP_FSCTL_VOLUME_INFO.FreeSize", typeof(FspVolumeInfo), "FreeSize", 8),
        ("FSP_FSCTL_VOLUME_INFO.VolumeLabelLength", typeof(FspVolumeInfo), "VolumeLabelLength", 16),
        ("FSP_FSCTL_VOLUME_INFO.VolumeLabel", typeof(FspVolumeInfo), "VolumeLabel", 18),
        ("FSP_FSCTL_FILE_INFO.FileAttributes", typeof(FspFileInfo), "FileAttributes", 0),
        ("FSP_FSCTL_FILE_INFO.ReparseTag", typeof(FspFileInfo), "ReparseTag", 4),
        ("FSP_FSCTL_FILE_INFO.AllocationSize", typeof(FspFileInfo), "AllocationSize", 8),
        ("FSP_FSCTL_FILE_INFO.FileSize", typeof(FspFileInfo), "FileSize", 16),
        ("FSP_FSCTL_FILE_INFO.CreationTime", typeof(FspFileInfo), "CreationTime", 24),
        ("FSP_FSCTL_FILE_INFO.LastAccessTime", typeof(FspFileInfo), "LastAccessTime", 32),
        ("FSP_FSCTL_FILE_INFO.LastWriteTime", typeof(FspFileInfo), "LastWriteTime", 40),
        ("FSP_FSCTL_FILE_INFO.ChangeTime", typeof(FspFileInfo), "ChangeTime", 48),
        ("FSP_FSCTL_FILE_INFO.IndexNumber", typeof(FspFileInfo), "IndexNumber", 56),
        ("FSP_FSCTL_FILE_INFO.HardLinks", typeof(FspFileInfo), "HardLinks", 64),
        ("FSP_FSCTL_FILE_INFO.EaSize", typeof(FspFileInfo), "EaSize", 68),
        ("FSP_FSCTL_DIR_INFO.Size", typeof(FspDirInfo), "Size", 0),
        ("FSP_FSCTL_DIR_INFO.FileInfo", typeof(FspDirInfo), "FileInfo", 8),
        ("FSP_FSCTL_DIR_INFO.NextOffset", typeof(FspDirInfo), "Padding", 80),
        ("FSP_FSCTL_TRANSACT_RSP.Version", typeof(FspTransactRsp), "Header", 0),
        ("FSP_FSCTL_TRANSACT_RSP.IoStatus.Information", typeof(FspTransactRsp), "Information", 16),
        ("FSP_FSCTL_TRANSACT_RSP.IoStatus.Status", typeof(FspTransactRsp), "Status", 20),
        ("FSP_FSCTL_TRANSACT_RSP.Rsp.Write.FileInfo", typeof(FspTransactRsp), "WriteFileInfo", 24),
        ("FSP_FSCTL_TRANSACT_REQ.Version", typeof(FspTransactHeader), "Version", 0),
        ("FSP_FSCTL_TRANSACT_REQ.Size", typeof(FspTransactHeader), "Size", 2),
        ("FSP_FSCTL_TRANSACT_REQ.Kind", typeof(FspTransactHeader), "Kind", 4),
        ("FSP_FSCTL_TRANSACT_REQ.Hint", typeof(FspTransactHeader), "Hint", 8),
        ("FSP_FILE_SYSTEM.Version", typeof(FspFileSystem), "Version", 0),
        ("FSP_FILE_SYSTEM.UserContext", typeof(FspFileSystem), "UserContext", 8),
        ("FSP_FILE_SYSTEM.VolumeName", typeof(FspFileSystem), "VolumeName", 16),
        ("FSP_FILE_SYSTEM.VolumeHandle", typeof(FspFileSystem), "VolumeHandle", 528),
        ("FSP_FILE_SYSTEM.EnterOperation", typeof(FspFileSystem), "EnterOperation", 536),
        ("FSP_FILE_SYSTEM.LeaveOperation", typeof(FspFileSystem), "LeaveOperation", 544),
        ("FSP_FILE_SYSTEM.Operations", typeof(FspFileSystem), "Operations", 552),
        ("FSP_FILE_SYSTEM.Interface", typeof(FspFileSystem), "Interface", 728),
        ("FSP_FILE_SYSTEM.DispatcherThread", typeof(FspFileSystem), "DispatcherThread", 736),
        ("FSP_FILE_SYSTEM.DispatcherThreadCount", typeof(FspFileSystem), "DispatcherThreadCount", 744),
        ("FSP_FILE_SYSTEM.DispatcherResult", typeof(FspFileSystem), "DispatcherResult", 748),
        ("FSP_FILE_SYSTEM.MountPoint", typeof(FspFileSystem), "MountPoint", 752),
        ("FSP_FILE_SYSTEM.MountHandle", typeof(FspFileSystem), "MountHandle", 760),
        ("FSP_FILE_SYSTEM.DebugLog", typeof(FspFileSystem), "DebugLog", 768),
        ("FSP_FILE_SYSTEM.OpGuardStrategy", typeof(FspFileSystem), "OpGuardStrategy", 772),
        ("FSP_FILE_SYSTEM.OpGuardLock", typeof(FspFileSystem), "OpGuardLock", 776),
        ("FSP_FILE_SYSTEM.UmFileContextIsUserContext2", typeof(FspFileSystem), "UmFileContextIsUserContext2", 784),
        ("FSP_FILE_SYSTEM.UmFileContextIsFullContext", typeof(FspFileSystem), "UmFileContextIsFullContext", 785),
        ("FSP_FILE_SYSTEM_INTERFACE.GetVolumeInfo", typeof(FspFileSystemInterface), "GetVolumeInfo", 0),
        ("FSP_FILE_SYSTEM_INTERFACE.SetVolumeLabel", typeof(FspFileSystemInterface), "SetVolumeLabel", 8),
        ("FSP_FILE_SYSTEM_INTERFACE.GetSecurityByName", typeof(FspFileSystemInterface), "GetSecurityByName", 16),
        ("FSP_FILE_SYSTEM_INTERFACE.Create", typeof(FspFileSystemInterface), "Create", 24),
        ("FSP_FILE_SYSTEM_INTERFACE.Open", typeof(FspFileSystemInterface), "Open", 32),
        ("FSP_FILE_SYSTEM_INTERFACE.Overwrite", typeof(FspFileSystemInterface), "Overwrite", 40),
        ("FSP_FILE_SYSTEM_INTERFACE.Cleanup", typeof(FspFileSystemInterface), "Cleanup", 48),
        ("FSP_FILE_SYSTEM_INTERFACE.Close", typeof(FspFileSystemInterface), "Close", 56),
        ("FSP_FILE_SYSTEM_INTERFACE.Read", typeof(FspFileSystemInterface), "Read", 64),
        ("FSP_FILE_SYSTEM_INTERFACE.Write", typeof(FspFileSystemInterface), "Write", 72),
        ("FSP_FILE_SYSTEM_INTERFACE.Flush", typeof(FspFileSystemInterface), "Flush", 80),
        ("FSP_FILE_SYSTEM_INTERFACE.GetFileInfo", typeof(FspFileSystemInterface), "GetFileInfo", 88),
        ("FSP_FILE_SYSTEM_INTERFACE.SetBasicInfo", typeof(FspFileSystemInterface), "SetBasicInfo", 96),
        ("FSP_FILE_SYSTEM_INTERFACE.SetFileSize", typeof(FspFileSystemInterface), "SetFileSize", 104),
        ("FSP_FILE_SYSTEM_INTERFACE.CanDelete", typeof(FspFileSystemInterface), "CanDelete", 112),
        ("FSP_FILE_SYSTEM_INTERFACE.Rename", typeof(FspFileSystemInterface), "Rename", 120),
        ("FSP_FILE_SYSTEM_INTERFACE.GetSecurity", typeof(FspFileSystemInterface), "GetSecurity", 128),
        ("FSP_FILE_SYSTEM_INTERFACE.SetSecurity", typeof(FspFileSystemInterface), "SetSecurity", 136),
        ("FSP_FILE_SYSTEM_INTERFACE.ReadDirectory", typeof(FspFileSystemInterface), "ReadDirectory", 144),
        ("FSP_FILE_SYSTEM_INTERFACE.ResolveReparsePoints", typeof(FspFileSystemInterface), "ResolveReparsePoints", 152),
        ("FSP_FILE_SYSTEM_INTERFACE.GetReparsePoint", typeof(FspFileSystemInterface), "GetReparsePoint", 160),
        ("FSP_FILE_SYSTEM_INTERFACE.SetReparsePoint", typeof(FspFileSystemInterface), "SetReparsePoint", 168),
        ("FSP_FILE_SYSTEM_INTERFACE.DeleteReparsePoint", typeof(FspFileSystemInterface), "DeleteReparsePoint", 176),
        ("FSP_FILE_SYSTEM_INTERFACE.GetStreamInfo", typeof(FspFileSystemInterface), "GetStreamInfo", 184),
        ("FSP_FILE_SYSTEM_INTERFACE.GetDirInfoByName", typeof(FspFileSystemInterface), "GetDirInfoByName", 192),
        ("FSP_FILE_SYSTEM_INTERFACE.Control", typeof(FspFileSystemInterface), "Control", 200),
        ("FSP_FILE_SYSTEM_INTERFACE.SetDelete", typeof(FspFileSystemInterface), "SetDelete", 208),
        ("FSP_FILE_SYSTEM_INTERFACE.CreateEx", typeof(FspFileSystemInterface), "CreateEx", 216),
        ("FSP_FILE_SYSTEM_INTERFACE.OverwriteEx", typeof(FspFileSystemInterface), "OverwriteEx", 224),
        ("FSP_FILE_SYSTEM_INTERFACE.GetEa", typeof(FspFileSystemInterface), "GetEa", 232),
        ("FSP_FILE_SYSTEM_INTERFACE.SetEa", typeof(FspFileSystemInterface), "SetEa", 240),
        ("FSP_FILE_SYSTEM_INTERFACE.Obsolete0", typeof(FspFileSystemInterface), "Obsolete0", 248),
        ("FSP_FILE_SYSTEM_INTERFACE.DispatcherStopped", typeof(FspFileSystemInterface), "DispatcherStopped", 256),
        ("FSP_FILE_SYSTEM_INTERFACE.Reserved", typeof(FspFileSystemInterface), "Reserved", 264),
        ("FSP_FILE_SYSTEM_OPERATION_CONTEXT.Request", typeof(FspOperationContext), "Request", 0),
        ("FSP_FILE_SYSTEM_OPERATION_CONTEXT.Response", typeof(FspOperationContext), "Response", 8),
        ("FSP_FSCTL_VOLUME_PARAMS.CaseSensitiveSearch (V0 bitfield word)", typeof(FspVolumeParams), "Flags", 36),
        ("FSP_FSCTL_VOLUME_PARAMS.VolumeInfoTimeoutValid (V1 bitfield word)", typeof(FspVolumeParams), "AdditionalFlags", 456),
        ("FSP_FILE_SYSTEM.UmNoReparsePointsDirCheck (bitfield word)", typeof(FspFileSystem), "UmFlags", 786),
    ];

    [Test]
    public void Struct_sizes_match_the_headers()
    {
        foreach (var (c, t, size, lines) in Sizes)
        {
            Assert.That(Marshal.SizeOf(t), Is.EqualTo(size), $"sizeof {c} ({lines})");
        }
    }

    [Test]
    public void Every_bound_field_sits_at_the_offset_the_headers_give()
    {
        foreach (var (c, t, field, offset) in Offsets)
        {
            Assert.That(t.GetField(field), Is.Not.Null, $"{t.Name} has no field {field} for {c}");
            Assert.That((int)Marshal.OffsetOf(t, field), Is.EqualTo(offset), c);
        }
        Assert.That(Offsets, Has.Length.GreaterThan(100));
    }

    // fsctl.h 206-236 (V0 word at offset 36) and 241-246 (V1 word at offset 456): the bit each field takes under
    // MSVC packing, found by setting each field alone and reading the word.
    [TestCase(nameof(FspVolumeFlags.CaseSensitiveSearch), FspVolumeFlags.CaseSensitiveSearch, 0x1u)]
    [TestCase(nameof(FspVolumeFlags.CasePreservedNames), FspVolumeFlags.CasePreservedNames, 0x2u)]
    [TestCase(nameof(FspVolumeFlags.UnicodeOnDisk), FspVolumeFlags.UnicodeOnDisk, 0x4u)]
    [TestCase(nameof(FspVolumeFlags.PersistentAcls), FspVolumeFlags.PersistentAcls, 0x8u)]
    [TestCase(nameof(FspVolumeFlags.ReparsePoints), FspVolumeFlags.ReparsePoints, 0x10u)]
    [TestCase(nameof(FspVolumeFlags.ReparsePointsAccessCheck), FspVolumeFlags.ReparsePointsAccessCheck, 0x20u)]
    [TestCase(nameof(FspVolumeFlags.NamedStreams), FspVolumeFlags.NamedStreams, 0x40u)]
    [TestCase(nameof(FspVolumeFlags.HardLinks), FspVolumeFlags.HardLinks, 0x80u)]
    [TestCase(nameof(FspVolumeFlags.ExtendedAttributes), FspVolumeFlags.ExtendedAttributes, 0x100u)]
    [TestCase(nameof(FspVolumeFlags.ReadOnlyVolume), FspVolumeFlags.ReadOnlyVolume, 0x200u)]
    [TestCase(nameof(FspVolumeFlags.PostCleanupWhenModifiedOnly), FspVolumeFlags.PostCleanupWhenModifiedOnly, 0x400u)]
    [TestCase(nameof(FspVolumeFlags.PassQueryDirectoryPattern), FspVolumeFlags.PassQueryDirectoryPattern, 0x800u)]
    [TestCase(nameof(FspVolumeFlags.AlwaysUseDoubleBuffering), FspVolumeFlags.AlwaysUseDoubleBuffering, 0x1000u)]
    [TestCase(nameof(FspVolumeFlags.PassQueryDirectoryFileName), FspVolumeFlags.PassQueryDirectoryFileName, 0x2000u)]
    [TestCase(nameof(FspVolumeFlags.FlushAndPurgeOnCleanup), FspVolumeFlags.FlushAndPurgeOnCleanup, 0x4000u)]
    [TestCase(nameof(FspVolumeFlags.DeviceControl), FspVolumeFlags.DeviceControl, 0x8000u)]
    [TestCase(nameof(FspVolumeFlags.UmFileContextIsUserContext2), FspVolumeFlags.UmFileContextIsUserContext2, 0x10000u)]
    [TestCase(nameof(FspVolumeFlags.UmFileContextIsFullContext), FspVolumeFlags.UmFileContextIsFullContext, 0x20000u)]
    [TestCase(nameof(FspVolumeFlags.UmNoReparsePointsDirCheck), FspVolumeFlags.UmNoReparsePointsDirCheck, 0x40000u)]
    [TestCase(nameof(FspVolumeFlags.AllowOpenInKernelMode), FspVolumeFlags.AllowOpenInKernelMode, 0x1000000u)]
    [TestCase(nameof(FspVolumeFlags.CasePreservedExtendedAttributes), FspVolumeFlags.CasePreservedExtendedAttributes, 0x2000000u)]
    [TestCase(nameof(FspVolumeFlags.WslFeatures), FspVolumeFlags.WslFeatures, 0x4000000u)]
    [TestCase(nameof(FspVolumeFlags.DirectoryMarkerAsNextOffset), FspVolumeFlags.DirectoryMarkerAsNextOffset, 0x8000000u)]
    [TestCase(nameof(FspVolumeFlags.RejectIrpPriorToTransact0), FspVolumeFlags.RejectIrpPriorToTransact0, 0x10000000u)]
    [TestCase(nameof(FspVolumeFlags.SupportsPosixUnlinkRename), FspVolumeFlags.SupportsPosixUnlinkRename, 0x20000000u)]
    [TestCase(nameof(FspVolumeFlags.PostDispositionWhenNecessaryOnly), FspVolumeFlags.PostDispositionWhenNecessaryOnly, 0x40000000u)]
    [TestCase(nameof(FspVolumeFlags.VolumeInfoTimeoutValid), FspVolumeFlags.VolumeInfoTimeoutValid, 0x1u)]
    [TestCase(nameof(FspVolumeFlags.DirInfoTimeoutValid), FspVolumeFlags.DirInfoTimeoutValid, 0x2u)]
    [TestCase(nameof(FspVolumeFlags.SecurityTimeoutValid), FspVolumeFlags.SecurityTimeoutValid, 0x4u)]
    [TestCase(nameof(FspVolumeFlags.StreamInfoTimeoutValid), FspVolumeFlags.StreamInfoTimeoutValid, 0x8u)]
    [TestCase(nameof(FspVolumeFlags.EaTimeoutValid), FspVolumeFlags.EaTimeoutValid, 0x10u)]
    public void Volume_flag_bits_match_the_header(string field, uint ours, uint header)
    {
        Assert.That(ours, Is.EqualTo(header), field);
    }

    // fsctl.h 136, 153-191 (enums); winfsp.h 149-157 (FspCleanup*).
    [TestCase("FspFsctlTransactKindCount", FspConstants.TransactKindCount, 22L)]
    [TestCase("FspFsctlTransactReadKind", FspConstants.TransactReadKind, 5L)]
    [TestCase("FspFsctlTransactWriteKind", FspConstants.TransactWriteKind, 6L)]
    [TestCase("FspFsctlTransactQueryDirectoryKind", FspConstants.TransactQueryDirectoryKind, 14L)]
    [TestCase("FspFsctlIrpTimeoutDefault", FspConstants.IrpTimeoutDefault, 300000L)]
    [TestCase("FspFsctlIrpCapacityDefault", FspConstants.IrpCapacityDefault, 1000L)]
    [TestCase("FSP_FSCTL_TRANSACT_PATH_SIZEMAX", FspConstants.TransactPathSizeMax, 2048L)]
    [TestCase("sizeof(FSP_FSCTL_VOLUME_PARAMS)", FspConstants.VolumeParamsSize, 504L)]
    [TestCase("sizeof(FSP_FSCTL_TRANSACT_RSP)", FspConstants.TransactRspSize, 128L)]
    [TestCase("sizeof(FSP_FSCTL_DIR_INFO)", DirInfoBuffer.HeaderSize, 104L)]
    [TestCase("FspCleanupDelete", FspCleanupFlags.Delete, 1L)]
    [TestCase("FspCleanupSetAllocationSize", FspCleanupFlags.SetAllocationSize, 2L)]
    [TestCase("FspCleanupSetArchiveBit", FspCleanupFlags.SetArchiveBit, 16L)]
    [TestCase("FspCleanupSetLastAccessTime", FspCleanupFlags.SetLastAccessTime, 32L)]
    [TestCase("FspCleanupSetLastWriteTime", FspCleanupFlags.SetLastWriteTime, 64L)]
    [TestCase("FspCleanupSetChangeTime", FspCleanupFlags.SetChangeTime, 128L)]
    [TestCase("FILE_ATTRIBUTE_READONLY", WinConstants.FileAttributeReadOnly, 1L)]
    [TestCase("FILE_ATTRIBUTE_DIRECTORY", WinConstants.FileAttributeDirectory, 16L)]
    [TestCase("FILE_ATTRIBUTE_ARCHIVE", WinConstants.FileAttributeArchive, 32L)]
    [TestCase("FILE_DIRECTORY_FILE", WinConstants.FileDirectoryFile, 1L)]
    [TestCase("FILE_NON_DIRECTORY_FILE", WinConstants.FileNonDirectoryFile, 64L)]
    [TestCase("FILE_DELETE_ON_CLOSE", WinConstants.FileDeleteOnClose, 4096L)]
    [TestCase("FILE_SUPERSEDE", WinConstants.FileSupersede, 0L)]
    [TestCase("FILE_OPEN", WinConstants.FileOpen, 1L)]
    [TestCase("FILE_CREATE", WinConstants.FileCreate, 2L)]
    [TestCase("FILE_OPEN_IF", WinConstants.FileOpenIf, 3L)]
    [TestCase("FILE_OVERWRITE", WinConstants.FileOverwrite, 4L)]
    [TestCase("FILE_OVERWRITE_IF", WinConstants.FileOverwriteIf, 5L)]
    [TestCase("FILE_READ_DATA", WinConstants.FileReadData, 1L)]
    [TestCase("FILE_WRITE_DATA", WinConstants.FileWriteData, 2L)]
    [TestCase("FILE_APPEND_DATA", WinConstants.FileAppendData, 4L)]
    [TestCase("FILE_READ_ATTRIBUTES", WinConstants.FileReadAttributes, 128L)]
    [TestCase("FILE_WRITE_ATTRIBUTES", WinConstants.FileWriteAttributes, 256L)]
    [TestCase("DELETE", WinConstants.Delete, 65536L)]
    public void Constants_match_the_headers(string name, long ours, long header)
    {
        Assert.That(ours, Is.EqualTo(header), name);
    }

    // ntstatus.h (unsigned values as the header writes them).
    [TestCase("STATUS_SUCCESS", NtStatus.Success, 0L)]
    [TestCase("STATUS_PENDING", NtStatus.Pending, 259L)]
    [TestCase("STATUS_BUFFER_OVERFLOW", NtStatus.BufferOverflow, 2147483653L)]
    [TestCase("STATUS_INVALID_HANDLE", NtStatus.InvalidHandle, 3221225480L)]
    [TestCase("STATUS_INVALID_PARAMETER", NtStatus.InvalidParameter, 3221225485L)]
    [TestCase("STATUS_INVALID_DEVICE_REQUEST", NtStatus.InvalidDeviceRequest, 3221225488L)]
    [TestCase("STATUS_END_OF_FILE", NtStatus.EndOfFile, 3221225489L)]
    [TestCase("STATUS_ACCESS_DENIED", NtStatus.AccessDenied, 3221225506L)]
    [TestCase("STATUS_OBJECT_NAME_INVALID", NtStatus.ObjectNameInvalid, 3221225523L)]
    [TestCase("STATUS_OBJECT_NAME_NOT_FOUND", NtStatus.ObjectNameNotFound, 3221225524L)]
    [TestCase("STATUS_OBJECT_NAME_COLLISION", NtStatus.ObjectNameCollision, 3221225525L)]
    [TestCase("STATUS_OBJECT_PATH_NOT_FOUND", NtStatus.ObjectPathNotFound, 3221225530L)]
    [TestCase("STATUS_NONEXISTENT_EA_ENTRY", NtStatus.NonexistentEaEntry, 3221225553L)]
    [TestCase("STATUS_DISK_FULL", NtStatus.DiskFull, 3221225599L)]
    [TestCase("STATUS_INTEGER_OVERFLOW", NtStatus.IntegerOverflow, 0xC0000095L)]
    [TestCase("STATUS_FILE_INVALID", NtStatus.FileInvalid, 3221225624L)]
    [TestCase("STATUS_MEDIA_WRITE_PROTECTED", NtStatus.MediaWriteProtected, 3221225634L)]
    [TestCase("STATUS_IO_TIMEOUT", NtStatus.IoTimeout, 3221225653L)]
    [TestCase("STATUS_FILE_IS_A_DIRECTORY", NtStatus.FileIsADirectory, 3221225658L)]
    [TestCase("STATUS_NOT_SUPPORTED", NtStatus.NotSupported, 3221225659L)]
    [TestCase("STATUS_NOT_SAME_DEVICE", NtStatus.NotSameDevice, 3221225684L)]
    [TestCase("STATUS_DIRECTORY_NOT_EMPTY", NtStatus.DirectoryNotEmpty, 3221225729L)]
    [TestCase("STATUS_NOT_A_DIRECTORY", NtStatus.NotADirectory, 3221225731L)]
    [TestCase("STATUS_NAME_TOO_LONG", NtStatus.NameTooLong, 3221225734L)]
    [TestCase("STATUS_CANCELLED", NtStatus.Cancelled, 3221225760L)]
    [TestCase("STATUS_CANNOT_DELETE", NtStatus.CannotDelete, 3221225761L)]
    [TestCase("STATUS_IO_DEVICE_ERROR", NtStatus.IoDeviceError, 3221225861L)]
    [TestCase("STATUS_NETWORK_UNREACHABLE", NtStatus.NetworkUnreachable, 3221226044L)]
    [TestCase("STATUS_FILE_TOO_LARGE", NtStatus.FileTooLarge, 0xC0000904L)]
    public void Ntstatus_values_match_the_sdk(string name, int ours, long header)
    {
        Assert.That((uint)ours, Is.EqualTo((uint)header), name);
    }

    [Test]
    public void The_interface_has_the_64_entries_the_header_asserts()
    {
        // winfsp.h 1094-1095: sizeof(FSP_FILE_SYSTEM_INTERFACE) == 64 * sizeof(NTSTATUS (*)()).
        Assert.That(Marshal.SizeOf<FspFileSystemInterface>(), Is.EqualTo(64 * IntPtr.Size));
    }

    [Test]
    public void Dll_names_follow_the_header()
    {
        // winfsp.h 2189 FSP_DLLNAME = "winfsp-" FSP_FSCTL_PRODUCT_FILE_ARCH ".dll"; fsctl.h 72-80 the arch names.
        Assert.That(WinFspLoaderNames.For(Architecture.X64), Is.EqualTo("winfsp-x64.dll"));
        Assert.That(WinFspLoaderNames.For(Architecture.Arm64), Is.EqualTo("winfsp-a64.dll"));
        Assert.That(WinFspLoaderNames.For(Architecture.X86), Is.EqualTo("winfsp-x86.dll"));
    }
}
