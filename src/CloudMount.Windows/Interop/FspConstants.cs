namespace CloudMount.Windows.Interop;

/// <summary>
/// Constants of WinFsp 2025 (v2.1) headers and of the Windows SDK that the binding uses. Each WinFsp value names
/// its header line; the tests check them against those values.
/// </summary>
internal static class FspConstants
{
    /// <summary>sizeof(FSP_FSCTL_VOLUME_PARAMS) (fsctl.h 266): the Version that asks for the V1 fields.</summary>
    public const int VolumeParamsSize = 504;

    /// <summary>sizeof(FSP_FSCTL_TRANSACT_RSP): header (16) + IoStatus (8) + the Rsp union (104).</summary>
    public const int TransactRspSize = 128;

    /// <summary>FspFsctlTransactKindCount (fsctl.h 177).</summary>
    public const int TransactKindCount = 22;

    /// <summary>FspFsctlTransactReadKind (fsctl.h 160).</summary>
    public const uint TransactReadKind = 5;

    /// <summary>FspFsctlTransactWriteKind (fsctl.h 161).</summary>
    public const uint TransactWriteKind = 6;

    /// <summary>FspFsctlTransactQueryDirectoryKind (fsctl.h 169).</summary>
    public const uint TransactQueryDirectoryKind = 14;

    /// <summary>FSP_FSCTL_DISK_DEVICE_NAME (fsctl.h 52): "WinFsp.Disk", for drive letters and directories.</summary>
    public const string DiskDeviceName = "WinFsp.Disk";

    /// <summary>FSP_FSCTL_NET_DEVICE_NAME (fsctl.h 53): "WinFsp.Net", for network drives (\\server\share prefix).</summary>
    public const string NetDeviceName = "WinFsp.Net";

    /// <summary>FSP_FSCTL_PRODUCT_REGKEY (fsctl.h 70), read in the 32-bit registry view (FSP_FSCTL_PRODUCT_REGKEY_WOW64, fsctl.h 71).</summary>
    public const string ProductRegistryKey = @"Software\WinFsp";

    /// <summary>FspFsctlIrpTimeoutDefault (fsctl.h 186), milliseconds.</summary>
    public const uint IrpTimeoutDefault = 300000;

    /// <summary>FspFsctlIrpCapacityDefault (fsctl.h 190).</summary>
    public const uint IrpCapacityDefault = 1000;

    /// <summary>FSP_FSCTL_TRANSACT_PATH_SIZEMAX (fsctl.h 136), bytes: the longest path WinFsp passes.</summary>
    public const int TransactPathSizeMax = 1024 * 2;
}

/// <summary>The Flags of Cleanup (winfsp.h 149-157: FspCleanupDelete and friends).</summary>
internal static class FspCleanupFlags
{
    public const uint Delete = 0x01;
    public const uint SetAllocationSize = 0x02;
    public const uint SetArchiveBit = 0x10;
    public const uint SetLastAccessTime = 0x20;
    public const uint SetLastWriteTime = 0x40;
    public const uint SetChangeTime = 0x80;
}

/// <summary>Windows SDK constants (winnt.h, wdm.h) the adapter interprets: file attributes, create options, access rights.</summary>
internal static class WinConstants
{
    public const uint FileAttributeReadOnly = 0x00000001;
    public const uint FileAttributeHidden = 0x00000002;
    public const uint FileAttributeDirectory = 0x00000010;
    public const uint FileAttributeArchive = 0x00000020;
    public const uint FileAttributeNormal = 0x00000080;
    public const uint InvalidFileAttributes = 0xFFFFFFFF;

    // CreateOptions: the low 24 bits (wdm.h FILE_*), the disposition in the high 8 (FILE_SUPERSEDE ...).
    public const uint FileDirectoryFile = 0x00000001;
    public const uint FileWriteThrough = 0x00000002;
    public const uint FileNonDirectoryFile = 0x00000040;
    public const uint FileDeleteOnClose = 0x00001000;

    public const uint FileSupersede = 0;
    public const uint FileOpen = 1;
    public const uint FileCreate = 2;
    public const uint FileOpenIf = 3;
    public const uint FileOverwrite = 4;
    public const uint FileOverwriteIf = 5;

    // Access rights (winnt.h).
    public const uint FileReadData = 0x0001;
    public const uint FileWriteData = 0x0002;
    public const uint FileAppendData = 0x0004;
    public const uint FileReadEa = 0x0008;
    public const uint FileWriteEa = 0x0010;
    public const uint FileReadAttributes = 0x0080;
    public const uint FileWriteAttributes = 0x0100;
    public const uint Delete = 0x00010000;
}
