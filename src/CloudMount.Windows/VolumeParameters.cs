using CloudMount.Core.Vfs;
using CloudMount.Windows.Interop;

namespace CloudMount.Windows;

/// <summary>The FSP_FSCTL_VOLUME_PARAMS of a mount (platform-neutral data, so the choices are tested anywhere).</summary>
internal static class VolumeParameters
{
    /// <summary>
    /// The volume parameters: 4 KiB sectors and allocation units, 255-character names, case-sensitive and
    /// case-preserving (object keys are), Unicode, ACLs from our descriptors, Cleanup only for changed or deleted
    /// files, the pattern and the single name passed to ReadDirectory / GetDirInfoByName, the cache flushed and
    /// purged at Cleanup (writes reach us before the upload), one file context per open handle, metadata cached
    /// for the mount's TTL, read-only when the mount is, and extended attributes (object metadata, names as given).
    /// </summary>
    public static unsafe FspVolumeParams For(VfsOptions vfs, DateTimeOffset now, bool extendedAttributes = true)
    {
        var p = new FspVolumeParams
        {
            Version = FspConstants.VolumeParamsSize,
            SectorSize = (ushort)FileInfoMapper.AllocationUnit,
            SectorsPerAllocationUnit = 1,
            MaxComponentLength = KeyNames.NameMax,
            VolumeCreationTime = FileInfoMapper.ToFileTime(now),
            VolumeSerialNumber = (uint)(now.ToUnixTimeSeconds() & 0xFFFFFFFF),
            IrpTimeout = FspConstants.IrpTimeoutDefault,
            IrpCapacity = FspConstants.IrpCapacityDefault,
            FileInfoTimeout = (uint)Math.Min(vfs.MetadataTtl.TotalMilliseconds, uint.MaxValue),
            Flags = FspVolumeFlags.CaseSensitiveSearch | FspVolumeFlags.CasePreservedNames | FspVolumeFlags.UnicodeOnDisk
                | FspVolumeFlags.PersistentAcls | FspVolumeFlags.PostCleanupWhenModifiedOnly | FspVolumeFlags.PassQueryDirectoryPattern
                | FspVolumeFlags.PassQueryDirectoryFileName | FspVolumeFlags.FlushAndPurgeOnCleanup | FspVolumeFlags.UmFileContextIsUserContext2
                | (vfs.ReadOnly ? FspVolumeFlags.ReadOnlyVolume : 0)
                | (extendedAttributes ? FspVolumeFlags.ExtendedAttributes | FspVolumeFlags.CasePreservedExtendedAttributes : 0),
        };
        const string name = "CloudMount";
        for (int i = 0; i < name.Length; i++) p.FileSystemName[i] = name[i];
        return p;
    }
}
