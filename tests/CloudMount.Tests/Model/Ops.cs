using System.Globalization;
using System.Text;

namespace CloudMount.Tests.Model;

/// <summary>How a descriptor is opened.</summary>
public enum Access { R, W, RW }

/// <summary>A time argument of utimensat: seconds and nanoseconds, or the special UTIME_NOW / UTIME_OMIT.</summary>
public readonly record struct Ts(long Sec, long Nsec)
{
    public const long UtimeNow = (1L << 30) - 1;
    public const long UtimeOmit = (1L << 30) - 2;

    public static readonly Ts Now = new(0, UtimeNow);
    public static readonly Ts Omit = new(0, UtimeOmit);

    public bool IsNow => Nsec == UtimeNow;
    public bool IsOmit => Nsec == UtimeOmit;

    /// <summary>Within what .NET's DateTimeOffset can hold (years 1 to 9999).</summary>
    public bool IsRepresentable => IsNow || IsOmit || (Sec >= -62135596800L && Sec <= 253402300799L && Nsec is >= 0 and < 1_000_000_000);

    public DateTimeOffset ToDateTimeOffset() => DateTimeOffset.FromUnixTimeSeconds(Sec).AddTicks(Nsec / 100);

    public override string ToString() => IsNow ? "now" : IsOmit ? "omit" : Nsec == 0 ? Sec.ToString(CultureInfo.InvariantCulture) : $"{Sec}.{Nsec:D9}";

    public static Ts Parse(string s)
    {
        if (s == "now") return Now;
        if (s == "omit") return Omit;
        int dot = s.IndexOf('.');
        return dot < 0 ? new Ts(long.Parse(s, CultureInfo.InvariantCulture), 0)
            : new Ts(long.Parse(s[..dot], CultureInfo.InvariantCulture), long.Parse(s[(dot + 1)..], CultureInfo.InvariantCulture));
    }
}

/// <summary>
/// One step of a sequence, path- and descriptor-based as a program sees the file system. Paths are relative to the
/// tree's root; descriptors are slots <c>fd0..fdN</c>. Every op has a one-line text form (its ToString) that
/// <see cref="Steps.Parse"/> reads back, so a shrunk failure prints as steps that can be pasted into a test.
/// An op on an empty slot is skipped by every target.
/// </summary>
public abstract record Op
{
    /// <summary>Ops that touch only file contents through descriptors (fsx mode).</summary>
    public virtual bool IsDescriptorOp => false;
}

public sealed record OpenOp(string Path, int Slot, Access Access, bool Create = false, bool Excl = false, bool Trunc = false, bool Append = false) : Op
{
    public override string ToString() => $"open {Steps.P(Path)} fd{Slot} {Access.ToString().ToLowerInvariant()}{(Create ? " creat" : "")}{(Excl ? " excl" : "")}{(Trunc ? " trunc" : "")}{(Append ? " append" : "")}";
}

/// <summary>pwrite of <paramref name="Length"/> pattern bytes (from <paramref name="Pattern"/>) at an offset; write() at the end on an O_APPEND descriptor.</summary>
public sealed record WriteOp(int Slot, long Offset, int Length, int Pattern) : Op
{
    public override bool IsDescriptorOp => true;
    public override string ToString() => $"write fd{Slot} @{Offset} {Length} #{Pattern}";
    public byte[] Data() => Steps.Pattern(Pattern, Length);
}

public sealed record ReadOp(int Slot, long Offset, int Length) : Op
{
    public override bool IsDescriptorOp => true;
    public override string ToString() => $"read fd{Slot} @{Offset} {Length}";
}

public sealed record TruncateOp(string Path, long Size) : Op
{
    public override string ToString() => $"truncate {Steps.P(Path)} {Size}";
}

public sealed record FtruncateOp(int Slot, long Size) : Op
{
    public override bool IsDescriptorOp => true;
    public override string ToString() => $"ftruncate fd{Slot} {Size}";
}

public sealed record FsyncOp(int Slot) : Op
{
    public override bool IsDescriptorOp => true;
    public override string ToString() => $"fsync fd{Slot}";
}

/// <summary>close(); with <paramref name="LateRelease"/>, the kernel's RELEASE reaches the file system only after the next step (as FUSE allows: release is asynchronous).</summary>
public sealed record CloseOp(int Slot, bool LateRelease = false) : Op
{
    public override bool IsDescriptorOp => true;
    public override string ToString() => $"close fd{Slot}{(LateRelease ? " late" : "")}";
}

public sealed record UnlinkOp(string Path) : Op
{
    public override string ToString() => $"unlink {Steps.P(Path)}";
}

public sealed record MkdirOp(string Path) : Op
{
    public override string ToString() => $"mkdir {Steps.P(Path)}";
}

public sealed record RmdirOp(string Path) : Op
{
    public override string ToString() => $"rmdir {Steps.P(Path)}";
}

public sealed record RenameOp(string From, string To, bool NoReplace = false) : Op
{
    public override string ToString() => $"rename {Steps.P(From)} {Steps.P(To)}{(NoReplace ? " noreplace" : "")}";
}

public sealed record SymlinkOp(string Target, string Path) : Op
{
    public override string ToString() => $"symlink {Steps.P(Path)} -> {Steps.P(Target)}";
}

public sealed record ReadlinkOp(string Path) : Op
{
    public override string ToString() => $"readlink {Steps.P(Path)}";
}

public sealed record StatOp(string Path) : Op
{
    public override string ToString() => $"stat {Steps.P(Path)}";
}

public sealed record UtimensOp(string Path, Ts Atime, Ts Mtime) : Op
{
    public override string ToString() => $"utimens {Steps.P(Path)} a={Atime} m={Mtime}";
}

public sealed record ChmodOp(string Path, uint Mode) : Op
{
    public override string ToString() => $"chmod {Steps.P(Path)} {Convert.ToString(Mode, 8)}";
}

public sealed record SetXattrOp(string Path, string Name, string Value, bool Create = false, bool Replace = false) : Op
{
    public override string ToString() => $"setxattr {Steps.P(Path)} {Name} ={Value}{(Create ? " create" : "")}{(Replace ? " replace" : "")}";
}

public sealed record GetXattrOp(string Path, string Name) : Op
{
    public override string ToString() => $"getxattr {Steps.P(Path)} {Name}";
}

public sealed record ListXattrOp(string Path) : Op
{
    public override string ToString() => $"listxattr {Steps.P(Path)}";
}

public sealed record RemoveXattrOp(string Path, string Name) : Op
{
    public override string ToString() => $"removexattr {Steps.P(Path)} {Name}";
}

public sealed record ReaddirOp(string Path) : Op
{
    public override string ToString() => $"readdir {Steps.P(Path)}";
}

/// <summary>open O_RDONLY, read everything, close (what <c>cat</c> does).</summary>
public sealed record CatOp(string Path) : Op
{
    public override string ToString() => $"cat {Steps.P(Path)}";
}

/// <summary>Time passes beyond every metadata TTL, so the file system asks the store again.</summary>
public sealed record TickOp : Op
{
    public override string ToString() => "tick";
}

/// <summary>The kernel forgets every inode it does not need (<c>echo 2 &gt; /proc/sys/vm/drop_caches</c>).</summary>
public sealed record DropCachesOp : Op
{
    public override string ToString() => "dropcaches";
}

/// <summary>Every descriptor is closed, the file system is unmounted and mounted again on the same store.</summary>
public sealed record RemountOp : Op
{
    public override string ToString() => "remount";
}

/// <summary>link(2): not supported by object stores (documented: EPERM).</summary>
public sealed record LinkOp(string From, string To) : Op
{
    public override string ToString() => $"link {Steps.P(From)} {Steps.P(To)}";
}

/// <summary>Parsing and helpers for the text form of ops.</summary>
public static class Steps
{
    /// <summary>A path for printing: long runs of one character as <c>x*255</c>.</summary>
    public static string P(string path) =>
        string.Join('/', path.Split('/').Select(c => c.Length > 16 && c.All(ch => ch == c[0]) ? $"{c[0]}*{c.Length}" : c));

    private static string Unp(string token) =>
        string.Join('/', token.Split('/').Select(c => c.Length > 2 && c.IndexOf('*') == 1 && int.TryParse(c[2..], out int n) ? new string(c[0], n) : c));

    /// <summary>Deterministic bytes for a write: printable, so diffs read well, and different per pattern.</summary>
    public static byte[] Pattern(int pattern, int length)
    {
        var b = new byte[length];
        uint x = (uint)pattern * 2654435761u + 12345;
        for (int i = 0; i < length; i++)
        {
            x ^= x << 13; x ^= x >> 17; x ^= x << 5;
            b[i] = (byte)('a' + (x % 26));
        }
        if (length > 0) b[0] = (byte)('A' + (pattern % 26));
        return b;
    }

    /// <summary>The text form of a sequence: one op per line.</summary>
    public static string Format(IEnumerable<Op> ops) => string.Join("; ", ops);

    /// <summary>Reads ops separated by ';' or new lines.</summary>
    public static List<Op> Parse(string text) =>
        text.Split([';', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(ParseOne).ToList();

    private static int Fd(string t) => t.StartsWith("fd", StringComparison.Ordinal) ? int.Parse(t[2..], CultureInfo.InvariantCulture) : throw new FormatException($"expected fdN, got {t}");

    private static long L(string t) => long.Parse(t.TrimStart('@'), CultureInfo.InvariantCulture);

    public static Op ParseOne(string line)
    {
        var t = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        bool Has(string flag) => t.Skip(1).Contains(flag);
        return t[0] switch
        {
            "open" => new OpenOp(Unp(t[1]), Fd(t[2]), Enum.Parse<Access>(t[3], ignoreCase: true), Has("creat"), Has("excl"), Has("trunc"), Has("append")),
            "write" => new WriteOp(Fd(t[1]), L(t[2]), int.Parse(t[3], CultureInfo.InvariantCulture), int.Parse(t[4].TrimStart('#'), CultureInfo.InvariantCulture)),
            "read" => new ReadOp(Fd(t[1]), L(t[2]), int.Parse(t[3], CultureInfo.InvariantCulture)),
            "truncate" => new TruncateOp(Unp(t[1]), L(t[2])),
            "ftruncate" => new FtruncateOp(Fd(t[1]), L(t[2])),
            "fsync" => new FsyncOp(Fd(t[1])),
            "close" => new CloseOp(Fd(t[1]), Has("late")),
            "unlink" => new UnlinkOp(Unp(t[1])),
            "mkdir" => new MkdirOp(Unp(t[1])),
            "rmdir" => new RmdirOp(Unp(t[1])),
            "rename" => new RenameOp(Unp(t[1]), Unp(t[2]), Has("noreplace")),
            "symlink" => new SymlinkOp(Unp(t[3]), Unp(t[1])),
            "readlink" => new ReadlinkOp(Unp(t[1])),
            "stat" => new StatOp(Unp(t[1])),
            "utimens" => new UtimensOp(Unp(t[1]), Ts.Parse(t[2][2..]), Ts.Parse(t[3][2..])),
            "chmod" => new ChmodOp(Unp(t[1]), Convert.ToUInt32(t[2], 8)),
            "setxattr" => new SetXattrOp(Unp(t[1]), t[2], t[3][1..], Has("create"), Has("replace")),
            "getxattr" => new GetXattrOp(Unp(t[1]), t[2]),
            "listxattr" => new ListXattrOp(Unp(t[1])),
            "removexattr" => new RemoveXattrOp(Unp(t[1]), t[2]),
            "readdir" => new ReaddirOp(Unp(t[1])),
            "cat" => new CatOp(Unp(t[1])),
            "tick" => new TickOp(),
            "dropcaches" => new DropCachesOp(),
            "remount" => new RemountOp(),
            "link" => new LinkOp(Unp(t[1]), Unp(t[2])),
            _ => throw new FormatException($"unknown op '{line}'"),
        };
    }

    /// <summary>A short readable rendering of bytes for outcomes: length, and the bytes themselves when short.</summary>
    public static string Bytes(ReadOnlySpan<byte> data)
    {
        if (data.Length <= 48) return $"{data.Length}:'{Encoding.ASCII.GetString(data).Replace("\0", "\\0")}'";
        return $"{data.Length}:md5={Convert.ToHexStringLower(System.Security.Cryptography.MD5.HashData(data))[..12]}:'{Encoding.ASCII.GetString(data[..16]).Replace("\0", "\\0")}..'";
    }
}
