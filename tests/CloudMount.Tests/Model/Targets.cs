using System.Security.Cryptography;
using System.Text;

namespace CloudMount.Tests.Model;

/// <summary>What one op returned: "ok" or an errno name, and a value (bytes read, a link target, a listing...).</summary>
public readonly record struct Outcome(string Errno, string Value = "")
{
    public static readonly Outcome Ok = new("ok");

    /// <summary>The op named an empty descriptor slot: nothing was done (every target skips it alike).</summary>
    public static readonly Outcome Skip = new("skip");

    public static Outcome Err(string errno, string detail = "") => new(errno, detail);

    public bool IsOk => Errno == "ok";

    public override string ToString() => Value.Length == 0 ? Errno : $"{Errno} {Value}";
}

/// <summary>One entry of a tree as stat and readdir show it.</summary>
/// <param name="Kind">'f' file, 'd' directory, 'l' symlink.</param>
/// <param name="Size">Bytes of a file (directories: 0, not compared).</param>
/// <param name="Link">A symlink's target.</param>
/// <param name="Content">A digest of a file's bytes, when contents were read.</param>
/// <param name="MtimeTicks">mtime in 100 ns ticks since the epoch (the model: only when set by utimens).</param>
/// <param name="Mode">Permission bits (the model: only when set by chmod).</param>
public readonly record struct EntryState(char Kind, long Size, string? Link = null, string? Content = null, long? MtimeTicks = null, uint? Mode = null)
{
    public override string ToString() => Kind switch
    {
        'd' => "dir",
        'l' => $"symlink -> {Link}",
        _ => $"file {Size} B{(Content is null ? "" : " " + Content)}{(MtimeTicks is { } t ? $" mtime {Ts(t)}" : "")}{(Mode is { } m ? " mode " + Convert.ToString(m, 8) : "")}",
    };

    private static string Ts(long ticks) =>
        ticks >= DateTimeOffset.MinValue.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks && ticks <= DateTimeOffset.MaxValue.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks
            ? DateTimeOffset.UnixEpoch.AddTicks(ticks).ToString("yyyy-MM-dd HH:mm:ss.fffffff") : $"{ticks} ticks";
}

/// <summary>A whole tree: path -> entry, plus anything the target itself found inconsistent (readdir vs stat).</summary>
public sealed class Snapshot
{
    public SortedDictionary<string, EntryState> Entries { get; } = new(StringComparer.Ordinal);

    public List<string> Anomalies { get; } = [];

    public static string Digest(ReadOnlySpan<byte> data) => Steps.Bytes(data);

    /// <summary>Differences between this (expected) and <paramref name="actual"/>: a category (for shrinking) and a line each.</summary>
    public List<(string Category, string Line)> DiffAgainst(Snapshot actual, Func<string, EntryState, EntryState, bool> equal)
    {
        var lines = new List<(string, string)>();
        foreach (var (path, e) in Entries)
        {
            if (!actual.Entries.TryGetValue(path, out var a)) lines.Add(("missing", $"missing {path} ({e})"));
            else if (!equal(path, e, a)) lines.Add((Category(e, a), $"{path}: expected {e}, got {a}"));
        }
        foreach (var (path, a) in actual.Entries)
        {
            if (!Entries.ContainsKey(path)) lines.Add(("unexpected", $"unexpected {path} ({a})"));
        }
        lines.AddRange(actual.Anomalies.Select(x => ("anomaly", "anomaly: " + x)));
        return lines;
    }

    private static string Category(EntryState e, EntryState a) =>
        e.Kind != a.Kind ? $"kind-{e.Kind}-to-{a.Kind}"
        : e.Kind == 'l' ? "link-target"
        : e.Size != a.Size ? "size"
        : e.Content != a.Content ? "content"
        : e.MtimeTicks != a.MtimeTicks ? "mtime" : "mode";

    public override string ToString()
    {
        var sb = new StringBuilder();
        foreach (var (p, e) in Entries) sb.Append("  ").Append(p).Append(": ").Append(e).AppendLine();
        return sb.ToString();
    }
}

/// <summary>
/// Something the ops run on: the POSIX model, the Vfs (as the kernel would drive it), or a directory through
/// syscalls (a local one, or a mount).
/// </summary>
public interface ITarget : IAsyncDisposable
{
    string Name { get; }

    /// <summary>Runs one op and returns what it returned. Never throws for an errno; throws only when the target itself broke.</summary>
    Task<Outcome> RunAsync(Op op);

    /// <summary>The tree as stat/readdir show it; with <paramref name="contents"/>, every file is also read (cat).</summary>
    Task<Snapshot> SnapshotAsync(bool contents);

    /// <summary>What a path is ('f', 'd', 'l') or null, following a final symlink when asked (used to decide divergences).</summary>
    Task<char?> KindAsync(string path, bool follow);

    /// <summary>Closes every open descriptor (end of a sequence).</summary>
    Task CloseAllAsync();
}

/// <summary>A reference that can tell whether a descriptor's file has lost its last name (for known-defect tolerance).</summary>
public interface IKnowsDescriptors
{
    bool IsUnlinked(int slot);
}

/// <summary>Linux errno names by number (x86_64), for outcomes.</summary>
public static class ErrnoNames
{
    private static readonly Dictionary<int, string> Names = new()
    {
        [1] = "EPERM", [2] = "ENOENT", [4] = "EINTR", [5] = "EIO", [9] = "EBADF", [11] = "EAGAIN", [12] = "ENOMEM",
        [13] = "EACCES", [16] = "EBUSY", [17] = "EEXIST", [18] = "EXDEV", [20] = "ENOTDIR", [21] = "EISDIR",
        [22] = "EINVAL", [24] = "EMFILE", [27] = "EFBIG", [28] = "ENOSPC", [30] = "EROFS", [31] = "EMLINK", [34] = "ERANGE",
        [36] = "ENAMETOOLONG", [38] = "ENOSYS", [39] = "ENOTEMPTY", [40] = "ELOOP", [61] = "ENODATA", [75] = "EOVERFLOW",
        [95] = "EOPNOTSUPP", [101] = "ENETUNREACH", [103] = "ECONNABORTED", [107] = "ENOTCONN", [110] = "ETIMEDOUT", [116] = "ESTALE",
    };

    public static string Of(int errno) => Names.TryGetValue(errno, out var n) ? n : $"errno{errno}";
}

/// <summary>Small helpers shared by the targets.</summary>
public static class PathsOf
{
    public static string Parent(string path) => path.LastIndexOf('/') is var i and >= 0 ? path[..i] : "";

    public static string Name(string path) => path[(path.LastIndexOf('/') + 1)..];

    public static string Join(string dir, string name) => dir.Length == 0 ? name : dir + "/" + name;

    public static string Md5(byte[] data) => Convert.ToHexStringLower(MD5.HashData(data));
}
