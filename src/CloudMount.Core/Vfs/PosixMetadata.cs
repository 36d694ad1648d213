using System.Globalization;

namespace CloudMount.Core.Vfs;

/// <summary>
/// POSIX attributes kept in object user metadata the way s3fs-fuse and rclone keep them, so a bucket shared with
/// their users looks the same through every tool: <c>mtime</c> (seconds since the Unix epoch, with a fraction as
/// rclone writes it, e.g. <c>1700000000.123456789</c>, or whole seconds as s3fs writes it), <c>mode</c> (s3fs:
/// the whole st_mode in decimal, type bits included, e.g. <c>33188</c> for a 0644 file and <c>41471</c> for a
/// symlink; an octal string such as rclone's <c>100644</c> is read too), <c>uid</c> and <c>gid</c> (decimal), and as
/// newer s3fs versions write them <c>atime</c> and <c>ctime</c> (like mtime) and <c>rdev</c> (decimal, devices).
/// On S3 these are the headers <c>x-amz-meta-mtime</c>, <c>x-amz-meta-mode</c>, <c>x-amz-meta-uid</c>,
/// <c>x-amz-meta-gid</c>, <c>x-amz-meta-atime</c>, <c>x-amz-meta-ctime</c>, <c>x-amz-meta-rdev</c>.
/// </summary>
/// <param name="Mtime">Modification time, or <c>null</c> when not stored (Last-Modified then stands in).</param>
/// <param name="Mode">The whole st_mode (type and permission bits), or <c>null</c>.</param>
/// <param name="Uid">Owner, or <c>null</c>.</param>
/// <param name="Gid">Group, or <c>null</c>.</param>
public readonly record struct PosixMetadata(PosixTime? Mtime, uint? Mode, uint? Uid, uint? Gid)
{
    /// <summary>Metadata name of the modification time.</summary>
    public const string MtimeKey = "mtime";
    /// <summary>Metadata name of st_mode.</summary>
    public const string ModeKey = "mode";
    /// <summary>Metadata name of the owner's uid.</summary>
    public const string UidKey = "uid";
    /// <summary>Metadata name of the group's gid.</summary>
    public const string GidKey = "gid";
    /// <summary>Metadata name of the access time (set only by utimens; reads do not change it).</summary>
    public const string AtimeKey = "atime";
    /// <summary>Metadata name of the status change time.</summary>
    public const string CtimeKey = "ctime";
    /// <summary>Metadata name of a device's number.</summary>
    public const string RdevKey = "rdev";

    /// <summary>
    /// True for the metadata names that hold POSIX attributes: they are the node's mode, owner and times, changed by
    /// chmod, chown and touch, and not shown or set as <c>user.*</c> extended attributes.
    /// </summary>
    public static bool IsAttributeKey(string name) =>
        name is MtimeKey or ModeKey or UidKey or GidKey or AtimeKey or CtimeKey or RdevKey;

    /// <summary>Access time, or <c>null</c> when not stored.</summary>
    public PosixTime? Atime { get; init; }

    /// <summary>Status change time, or <c>null</c> when not stored.</summary>
    public PosixTime? Ctime { get; init; }

    /// <summary>Device number, or <c>null</c>.</summary>
    public ulong? Rdev { get; init; }

    /// <summary>The kind the mode's type bits say, or <c>null</c> when no mode (or unknown bits) is stored.</summary>
    public NodeKind? Kind => Mode is { } m ? NodeKinds.FromMode(m) : null;

    /// <summary>S_IFMT: the file-type bits of st_mode.</summary>
    public const uint TypeMask = 0xF000;
    /// <summary>S_IFREG.</summary>
    public const uint RegularType = 0x8000;
    /// <summary>S_IFLNK.</summary>
    public const uint SymlinkType = 0xA000;
    /// <summary>S_IFDIR.</summary>
    public const uint DirectoryType = 0x4000;

    /// <summary>True when <see cref="Mode"/> says the object is a symbolic link (s3fs's way to store one).</summary>
    public bool IsSymlink => Mode is { } m && (m & TypeMask) == SymlinkType;

    /// <summary>Permission bits (07777) of <see cref="Mode"/>, or <c>null</c>.</summary>
    public uint? Permissions => Mode is { } m ? m & 0xFFF : null;

    /// <summary>Reads the attributes from user metadata (names lower-case, without the service prefix); malformed values are ignored.</summary>
    public static PosixMetadata Parse(IReadOnlyDictionary<string, string>? metadata)
    {
        if (metadata is null || metadata.Count == 0) return default;
        return new PosixMetadata(
            metadata.TryGetValue(MtimeKey, out var t) ? ParseTime(t) : null,
            metadata.TryGetValue(ModeKey, out var m) ? ParseMode(m) : null,
            metadata.TryGetValue(UidKey, out var u) && uint.TryParse(u, NumberStyles.None, CultureInfo.InvariantCulture, out uint uid) ? uid : null,
            metadata.TryGetValue(GidKey, out var g) && uint.TryParse(g, NumberStyles.None, CultureInfo.InvariantCulture, out uint gid) ? gid : null)
        {
            Atime = metadata.TryGetValue(AtimeKey, out var a) ? ParseTime(a) : null,
            Ctime = metadata.TryGetValue(CtimeKey, out var c) ? ParseTime(c) : null,
            Rdev = metadata.TryGetValue(RdevKey, out var r) && ulong.TryParse(r, NumberStyles.None, CultureInfo.InvariantCulture, out ulong rdev) ? rdev : null,
        };
    }

    /// <summary>These attributes with every one <paramref name="over"/> sets taking its place.</summary>
    public PosixMetadata With(PosixMetadata over) => new(over.Mtime ?? Mtime, over.Mode ?? Mode, over.Uid ?? Uid, over.Gid ?? Gid)
    {
        Atime = over.Atime ?? Atime,
        Ctime = over.Ctime ?? Ctime,
        Rdev = over.Rdev ?? Rdev,
    };

    /// <summary>Seconds since the epoch, whole or with a fraction of up to nanoseconds.</summary>
    internal static PosixTime? ParseTime(string text) => PosixTime.Parse(text);

    /// <summary>Decimal st_mode (s3fs); a value too large for 16 bits is read as octal (rclone writes <c>100644</c>).</summary>
    internal static uint? ParseMode(string text)
    {
        text = text.Trim();
        if (!ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out ulong value)) return null;
        if (value <= 0xFFFF) return (uint)value;
        try
        {
            uint octal = Convert.ToUInt32(text, 8);
            return octal <= 0xFFFF ? octal : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary>Formats a time as rclone does: seconds, then nanoseconds after a dot when there are any.</summary>
    public static string FormatTime(PosixTime t) => t.ToString();

    /// <summary>Writes the set attributes into <paramref name="metadata"/> (s3fs's decimal mode).</summary>
    public void WriteTo(IDictionary<string, string> metadata)
    {
        if (Mtime is { } t) metadata[MtimeKey] = FormatTime(t);
        if (Mode is { } m) metadata[ModeKey] = m.ToString(CultureInfo.InvariantCulture);
        if (Uid is { } u) metadata[UidKey] = u.ToString(CultureInfo.InvariantCulture);
        if (Gid is { } g) metadata[GidKey] = g.ToString(CultureInfo.InvariantCulture);
        if (Atime is { } a) metadata[AtimeKey] = FormatTime(a);
        if (Ctime is { } c) metadata[CtimeKey] = FormatTime(c);
        if (Rdev is { } r) metadata[RdevKey] = r.ToString(CultureInfo.InvariantCulture);
    }
}
