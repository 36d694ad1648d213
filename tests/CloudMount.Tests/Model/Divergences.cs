namespace CloudMount.Tests.Model;

/// <summary>One documented way CloudMount differs from a local POSIX file system, with the reason.</summary>
public sealed record Divergence(string Id, string Reason);

/// <summary>What a comparison run checks beyond errno and bytes.</summary>
/// <param name="Mtimes">Compare mtimes set explicitly by utimens (only where the mount stores them: --posix-attrs).</param>
/// <param name="Modes">Compare permission bits set by chmod on files (only where the mount stores them: --posix-attrs).</param>
public sealed record CompareOptions(bool Mtimes = false, bool Modes = false);

/// <summary>
/// The one list of documented divergences between CloudMount and the POSIX model / a local directory, and the rules
/// the comparison applies for each. Anything not listed here is a defect. Remove an entry (and its rule) when the
/// mount starts to behave as POSIX says.
/// </summary>
public static class Divergences
{
    public static readonly Divergence NoHardLinks = new("no-hard-links",
        "An object store cannot keep one object under two keys that change together; link(2) answers EPERM " +
        "(issue 13 keeps this). The op is not run on the reference tree, and the mount must answer EPERM.");

    public static readonly Divergence XattrsOnFilesOnly = new("xattrs-on-files-only",
        "Extended attributes are object user metadata; a directory is a key prefix (its marker is optional), so " +
        "setxattr/removexattr on a directory answer EOPNOTSUPP, and getxattr/listxattr show none (ENODATA, an empty " +
        "list). Not run on the reference tree for directories.");

    public static readonly Divergence XattrNames = new("xattr-names",
        "Only user.* names, stored lower-cased (S3 lower-cases metadata names), values printable ASCII (HTTP " +
        "headers carry them). The generator stays within these; other names are not generated.");

    public static readonly Divergence NoMetadataStore = new("no-metadata-store",
        "A store without object metadata (file://) cannot mark an object as a symlink or hold xattrs: symlink, " +
        "setxattr and removexattr answer EOPNOTSUPP, getxattr ENODATA, listxattr an empty list. Not run on the " +
        "reference tree on such stores.");

    public static readonly Divergence InfoXattrs = new("info-xattrs",
        "listxattr also shows the read-only user.cloudmount.* attributes (content-type, etag, ...); they are left " +
        "out before comparing.");

    public static readonly Divergence MtimeNotKept = new("mtime-not-kept-by-default",
        "Without --posix-attrs, a file's mtime after upload is the store's Last-Modified (its clock, whole " +
        "seconds) and utimens is kept only in memory; mtimes are compared only on --posix-attrs configurations, and " +
        "only those set by utimens (issue 13 makes this the default).");

    public static readonly Divergence ModesNotKept = new("modes-not-kept-by-default",
        "Without --posix-attrs chmod/chown answer 0 and are not stored; directories never keep a mode (issue 13). " +
        "Modes are compared only for files on --posix-attrs configurations.");

    public static readonly Divergence UnrepresentableTimes = new("unrepresentable-times",
        "Times outside years 1..9999 cannot be held by the mount (.NET DateTimeOffset); utimensat may answer " +
        "EINVAL or EOVERFLOW where ext4 clamps, but must never crash the mount. Such times are not compared.");

    public static readonly Divergence NotCompared = new("not-compared",
        "st_ino, st_dev, st_nlink, st_blocks, atime, ctime and a directory's size and times are not compared: the " +
        "mount makes no promise about them (issue 13 covers ctime, directory times and nlink).");

    public static readonly Divergence NoExchange = new("no-rename-exchange",
        "RENAME_EXCHANGE cannot be atomic on an object store (EINVAL); it is not generated.");

    /// <summary>Every divergence, for the report and the docs.</summary>
    public static readonly IReadOnlyList<Divergence> All =
        [NoHardLinks, XattrsOnFilesOnly, NoMetadataStore, XattrNames, InfoXattrs, MtimeNotKept, ModesNotKept, UnrepresentableTimes, NotCompared, NoExchange];

    /// <summary>
    /// Ops the reference does not run because the mount documents another answer: returns the errnos the mount
    /// may give instead (null: run the op on both). <paramref name="kind"/> tells what a path is on the reference
    /// (following a final symlink when asked).
    /// </summary>
    public static async Task<(Divergence Why, string[] Accepted)?> NotOnReferenceAsync(Op op, Func<string, bool, Task<char?>> kind, bool storeKeepsMetadata = true)
    {
        if (op is LinkOp link) return (NoHardLinks, [await LinkErrnoAsync(link, kind)]);
        if (!storeKeepsMetadata && op is SymlinkOp or SetXattrOp or RemoveXattrOp or GetXattrOp or ListXattrOp)
        {
            // The kernel's own answers (a missing path, an existing name) still come first.
            string path = op switch { SymlinkOp s => s.Path, SetXattrOp s => s.Path, RemoveXattrOp r => r.Path, GetXattrOp g => g.Path, ListXattrOp l => l.Path, _ => "" };
            if (op is SymlinkOp && await kind(path, false) is not null) return null;
            if (op is not SymlinkOp && await kind(path, true) is null) return null;
            if (op is SymlinkOp && PathsOf.Parent(path) is { Length: > 0 } parent && await kind(parent, true) != 'd') return null;
            return (NoMetadataStore, op switch { GetXattrOp => ["ENODATA"], ListXattrOp => ["ok"], _ => ["EOPNOTSUPP"] });
        }
        char? kindFollowed = op switch
        {
            SetXattrOp s => await kind(s.Path, true),
            GetXattrOp g => await kind(g.Path, true),
            ListXattrOp l => await kind(l.Path, true),
            RemoveXattrOp r => await kind(r.Path, true),
            _ => null,
        };
        return NotOnReference(op, kindFollowed);
    }

    /// <summary>What link(2) answers on the mount: the kernel's own checks in its order, then the file system's EPERM.</summary>
    private static async Task<string> LinkErrnoAsync(LinkOp op, Func<string, bool, Task<char?>> kind)
    {
        async Task<string?> Walk(string path, bool last)
        {
            string parent = PathsOf.Parent(path);
            if (parent.Length > 0)
            {
                var p = await kind(parent, true);
                if (p is null) return "ENOENT";
                if (p != 'd') return "ENOTDIR";
            }
            if (System.Text.Encoding.UTF8.GetByteCount(PathsOf.Name(path)) > 255) return "ENAMETOOLONG";
            return last ? null : await kind(path, false) is null ? "ENOENT" : null;
        }
        if (await Walk(op.From, last: false) is { } e1) return e1;
        if (await Walk(op.To, last: true) is { } e2) return e2;
        if (await kind(op.To, false) is not null) return "EEXIST";
        return "EPERM";
    }

    private static (Divergence Why, string[] Accepted)? NotOnReference(Op op, char? kindFollowed) => op switch
    {
        SetXattrOp or RemoveXattrOp when kindFollowed == 'd' => (XattrsOnFilesOnly, ["EOPNOTSUPP"]),
        GetXattrOp when kindFollowed == 'd' => (XattrsOnFilesOnly, ["ENODATA", "EOPNOTSUPP"]),
        ListXattrOp when kindFollowed == 'd' => (XattrsOnFilesOnly, ["ok", "EOPNOTSUPP"]),
        _ => null,
    };

    /// <summary>Answers of the mount that differ from the reference's but are documented.</summary>
    public static Divergence? Accepts(Op op, Outcome reference, Outcome mount)
    {
        if (op is UtimensOp u && (!u.Atime.IsRepresentable || !u.Mtime.IsRepresentable) && reference.IsOk
            && mount.Errno is "EINVAL" or "EOVERFLOW" or "ERANGE")
        {
            return UnrepresentableTimes;
        }
        return null;
    }

    /// <summary>Brings a mount's answer into the reference's form where a divergence says how.</summary>
    public static Outcome Normalize(Op op, Outcome mount)
    {
        if (op is ListXattrOp && mount.IsOk)
        {
            var names = mount.Value.Split(',', StringSplitOptions.RemoveEmptyEntries)
                .Where(n => !n.StartsWith("user.cloudmount.", StringComparison.Ordinal))
                .Order(StringComparer.Ordinal);
            return mount with { Value = string.Join(",", names) };
        }
        return mount;
    }

    /// <summary>Whether two entries agree under the documented divergences.</summary>
    public static bool EntryEqual(CompareOptions options, EntryState expected, EntryState actual)
    {
        if (expected.Kind != actual.Kind) return false;
        if (expected.Kind == 'l') return expected.Link == actual.Link;
        if (expected.Kind == 'd') return true;
        if (expected.Size != actual.Size) return false;
        if (expected.Content is not null && actual.Content is not null && expected.Content != actual.Content) return false;
        if (options.Mtimes && expected.MtimeTicks is { } t && actual.MtimeTicks != t) return false;
        if (options.Modes && expected.Mode is { } m && actual.Mode != m) return false;
        return true;
    }
}
