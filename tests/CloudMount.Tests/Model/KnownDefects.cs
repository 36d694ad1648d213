namespace CloudMount.Tests.Model;

/// <summary>
/// Defects the model and syscall tests found on main, each with its shortest reproduction. Their tests carry
/// [Category("KnownDefect")] so <c>dotnet test --filter TestCategory!=KnownDefect</c> stays green; remove an entry
/// (and with it the category) when the fix lands.
/// </summary>
public static class KnownDefects
{
    /// <summary>A known defect of the Vfs: its name, its shortest reproduction (steps), and whether it needs --posix-attrs.</summary>
    public sealed record Defect(string Name, string Steps, bool Posix = false, string? Signature = null);

    /// <summary>
    /// Defects of the lists below that are fixed: their reproductions stay as regression tests, without the
    /// KnownDefect category, so the default run fails if one comes back.
    /// </summary>
    public static readonly IReadOnlySet<string> Fixed = new HashSet<string>
    {
        "huge-ftruncate-is-eio", "huge-truncate-leaks-its-write-state", "posix-attrs-show-as-xattrs",
        "setxattr-during-a-streaming-upload-is-not-stored", "utimens-beyond-year-9999-kills-the-mount",
        "utimens-before-year-1-kills-the-mount", "rm-of-a-new-empty-file-comes-back", "truncate-right-after-create-is-eio",
        "open-trunc-right-after-create-is-eio", "rename-of-an-empty-directory-is-eio-on-file", "append-after-a-read-close-is-ebadf",
        "symlink-becomes-a-file-when-listed", "rename-of-a-new-file-over-a-stored-one-keeps-the-old-object",
        "xattr-of-a-new-file-invisible-until-uploaded", "xattr-of-file-open-for-write-unreachable",
        "setxattr-of-file-open-for-write-unreachable", "unlinked-open-file-loses-its-bytes",
    };

    private static TestCaseData Categorised(TestCaseData c, string name) => Fixed.Contains(name) ? c : c.SetCategory("KnownDefect");

    public static readonly Defect[] Vfs =
    [
        // A symlink turns into a regular file the first time its directory is listed: the listing carries no mode,
        // GetListingAsync detaches the symlink inode because the listed kind (file) differs (issue 13).
        new("symlink-becomes-a-file-when-listed", "symlink a -> zz; readdir ."),
        // ftruncate/truncate beyond what a staging file can hold: ArgumentOutOfRangeException from SetLength -> EIO,
        // not EFBIG; the write state made for it is never freed (staging file and inode leak).
        new("huge-ftruncate-is-eio", "open a fd0 rw creat; ftruncate fd0 4611686018427387904"),
        new("huge-truncate-leaks-its-write-state", "open a fd0 w creat; close fd0; truncate a 999999999999999"),
        // A descriptor of a stored file that was unlinked: the first read or write hydrates from the deleted object
        // (ENOENT); POSIX keeps the bytes for open descriptors.
        new("unlinked-open-file-loses-its-bytes", "open a fd0 w creat; write fd0 @0 10 #1; close fd0; open a fd1 rw; unlink a; read fd1 @0 16"),
        // A file opened for writing (clean) whose object was never HEADed: RefreshFileAsync returns early for files
        // with a write state, so EnsureHeadAsync reports "store unreachable" (ENETUNREACH) for *xattr.
        new("xattr-of-file-open-for-write-unreachable", "open c fd0 w creat; close fd0; remount; open c fd0 w; getxattr c user.k1"),
        new("setxattr-of-file-open-for-write-unreachable", "open c fd0 w creat; close fd0; remount; open c fd0 w; setxattr c user.k2 =v"),
        // Renaming a file not yet uploaded over a stored file leaves the stored object: after a second rename or an
        // unlink the replaced file comes back.
        new("rename-of-a-new-file-over-a-stored-one-keeps-the-old-object", "open b fd0 w creat; close fd0; open a fd1 w creat; rename a b; unlink b"),
        // setxattr on a file not yet uploaded is kept for the upload, but getxattr/listxattr show nothing until then.
        new("xattr-of-a-new-file-invisible-until-uploaded", "open b fd0 w creat; setxattr b user.k2 =v; getxattr b user.k2"),
        // With --posix-attrs the s3fs/rclone attribute metadata (mode, mtime, uid, gid) shows as user.* xattrs, so
        // cp -a / rsync -X copy them and setxattr user.mode changes the mode.
        new("posix-attrs-show-as-xattrs", "open a fd0 w creat; close fd0; listxattr a", Posix: true),
        // A setxattr while a large file streams up in parts is kept in the inode, but the multipart upload completes
        // with the options it started with: the stored object lacks the attribute (seen after a remount).
        new("setxattr-during-a-streaming-upload-is-not-stored", "open a fd0 w creat; write fd0 @0 3000000 #1; setxattr a user.k1 =v1; close fd0; remount; getxattr a user.k1"),
    ];

    /// <summary>Op kinds left out of the "avoiding-known" seed family because their known defect changes the tree (no tolerance can step over it).</summary>
    public static readonly IReadOnlySet<string> Avoid = new HashSet<string> { "symlinks", "huge-sizes" };

    /// <summary>Fixed model seeds that fail on main, by (seed, config), with the defect they hit.</summary>
    public static readonly Dictionary<(int Seed, string Config), string> FailingSeeds = new()
    {
    };

    /// <summary>Fixed fsx seeds that fail on main.</summary>
    public static readonly Dictionary<int, string> FailingFsxSeeds = new()
    {
    };

    /// <summary>Whether <paramref name="op"/> is of the kind that triggers the known defect <paramref name="pattern"/> names.</summary>
    public static bool Triggers(string pattern, Op op) => pattern switch
    {
        "symlinks" => op is SymlinkOp,
        "huge-sizes" => op is TruncateOp { Size: > PosixModel.MaxFileSize } or FtruncateOp { Size: > PosixModel.MaxFileSize },
        "extreme-times" => op is UtimensOp u && (!u.Atime.IsRepresentable || !u.Mtime.IsRepresentable),
        _ => false,
    };

    /// <summary>
    /// Answers of known defects that change nothing but the op's own answer, so a run may go on past them (each is
    /// still caught by its own reproduction test). Returns the defect's name, or null.
    /// </summary>
    public static string? Tolerates(Op op, Outcome expected, Outcome actual, bool descriptorUnlinked)
    {
        if (op is TruncateOp { Size: > PosixModel.MaxFileSize } or FtruncateOp { Size: > PosixModel.MaxFileSize } && expected.Errno == "EFBIG" && actual.Errno == "EIO")
        {
            return "huge-truncate-is-eio";
        }
        if (op is GetXattrOp or ListXattrOp && actual.Errno == "ENETUNREACH") return "xattr-of-file-open-for-write-unreachable";
        if (op is RemoveXattrOp && expected.Errno == "ENODATA" && actual.Errno == "ENETUNREACH") return "xattr-of-file-open-for-write-unreachable";
        if (op is GetXattrOp && expected.IsOk && actual.Errno == "ENODATA") return "xattr-of-a-new-file-invisible-until-uploaded";
        if (op is ListXattrOp && expected.IsOk && actual.IsOk && !actual.Value.Split(',', StringSplitOptions.RemoveEmptyEntries).Except(expected.Value.Split(',')).Any())
        {
            return "xattr-of-a-new-file-invisible-until-uploaded";
        }
        if (op is ListXattrOp && expected.IsOk && actual.IsOk)
        {
            string[] posix = ["user.gid", "user.mode", "user.mtime", "user.uid"];
            var extra = actual.Value.Split(',', StringSplitOptions.RemoveEmptyEntries).Except(expected.Value.Split(',', StringSplitOptions.RemoveEmptyEntries)).ToList();
            var missing = expected.Value.Split(',', StringSplitOptions.RemoveEmptyEntries).Except(actual.Value.Split(',', StringSplitOptions.RemoveEmptyEntries));
            if (extra.Count > 0 && extra.All(posix.Contains) && !missing.Any()) return "posix-attrs-show-as-xattrs";
        }
        return null;
    }

    /// <summary>Known defects seen only through a real mount (the FUSE adapter, the kernel's view): name and shortest steps.</summary>
    public static readonly Defect[] Mount =
    [
        // os.utime(f, (10**12, 10**12)) and touch -d @-99999999999 end the process: the timespec is converted to a
        // DateTimeOffset in FuseAdapter.OnSetattr outside the guard (ArgumentOutOfRangeException, issue 10).
        new("utimens-beyond-year-9999-kills-the-mount", "open c fd0 w creat; close fd0; utimens c a=omit m=1000000000000"),
        new("utimens-before-year-1-kills-the-mount", "open c fd0 w creat; close fd0; utimens c a=omit m=-99999999999"),
        // touch M/L/a; rm M/L/a; sleep 2; ls M/L shows a again (issue 10): the asynchronous RELEASE uploads the empty file
        // while (or after) the unlink deleted nothing.
        new("rm-of-a-new-empty-file-comes-back", "mkdir L; " + string.Join("; ", new[] { "L/a", "L/b", "L/c", "a", "b", "c" }.Select(f => $"open {f} fd0 w creat; close fd0; unlink {f}")) + "; tick; readdir L; readdir ."),
        // truncate(path) right after create gives EIO ("setattr: Cannot access a closed file", issue 10).
        new("truncate-right-after-create-is-eio", "open t fd0 w creat; close fd0; truncate t 3; cat t"),
        // The same race through open(O_TRUNC) after a read-only create was closed (seen once on mem://, seed 242131).
        new("open-trunc-right-after-create-is-eio", string.Join("; ", new[] { "a", "b", "c" }.Select(f => $"open {f} fd0 r creat; close fd0; open {f} fd1 rw trunc; write fd1 @0 3 #1; close fd1"))),
        // On file:// renaming an empty directory (mkdir'ed, so its marker exists) answers EIO; mem:// and s3:// rename it.
        new("rename-of-an-empty-directory-is-eio-on-file", "mkdir d; rename d c; readdir ."),
        // read, close, then open with O_APPEND fails with EBADF about once in 100 (issue 10); 150 rounds.
        new("append-after-a-read-close-is-ebadf", "open log fd0 w creat; write fd0 @0 1 #1; close fd0; " +
            string.Join("; ", Enumerable.Repeat("open log fd1 r; read fd1 @0 16; close fd1; open log fd2 w append; write fd2 @0 1 #2; close fd2", 150))),
    ];

    /// <summary>Op kinds left out of the mount "avoiding-known" family (their known defect changes the tree or kills the mount).</summary>
    public static readonly IReadOnlySet<string> MountAvoid = new HashSet<string> { "symlinks", "huge-sizes", "extreme-times" };

    /// <summary>Mount seeds failing on main, by "backend seed family".</summary>
    public static readonly Dictionary<string, string> FailingMountSeeds = new()
    {
    };

    public static IEnumerable<TestCaseData> MountCases() =>
        Mount.Select(d => Categorised(new TestCaseData(d.Name, d.Steps).SetName($"Known_defect_reproduction_{d.Name}"), d.Name));

    private static Dictionary<string, string>? _mountSignatures;

    /// <summary>
    /// The name of the known defect (mount or Vfs catalog) whose reproduction, run through the same setup, fails with
    /// the same signature as <paramref name="failure"/>; null when none does.
    /// </summary>
    public static async Task<string?> MatchesMountAsync(Failure failure, RunSetup setup)
    {
        if (_mountSignatures is null)
        {
            var map = new Dictionary<string, string>();
            foreach (var d in Mount.Concat(Vfs).Where(d => !d.Posix))
            {
                var r = await Runner.RunAsync(setup with { TolerateKnown = false }, Model.Steps.Parse(d.Steps));
                if (r.Failure is { } f) map.TryAdd(f.Signature, d.Name);
            }
            _mountSignatures = map;
        }
        return _mountSignatures.GetValueOrDefault(failure.Signature);
    }

    public static IEnumerable<TestCaseData> VfsCases() =>
        Vfs.Select(d => Categorised(new TestCaseData(d.Name, d.Steps, d.Posix).SetName($"Known_defect_reproduction_{d.Name}"), d.Name));

    private static Dictionary<string, string>? _signatures;

    /// <summary>The name of the known defect whose reproduction fails with the same signature, or null.</summary>
    public static async Task<string?> MatchAsync(Failure failure, VfsConfig config)
    {
        if (_signatures is null)
        {
            var map = new Dictionary<string, string>();
            foreach (var d in Vfs)
            {
                var r = await Runner.RunAsync(VfsModelTests.Setup(new VfsConfig(d.Posix)) with { TolerateKnown = false }, Model.Steps.Parse(d.Steps));
                if (r.Failure is { } f) map.TryAdd(f.Signature, d.Name);
            }
            _signatures = map;
        }
        return _signatures.GetValueOrDefault(failure.Signature);
    }
}
