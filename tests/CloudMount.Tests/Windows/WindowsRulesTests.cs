using CloudMount.Core.Vfs;
using CloudMount.Windows;
using CloudMount.Windows.Interop;

namespace CloudMount.Tests.Windows;

/// <summary>The Windows semantics in one place each: names, patterns, NTSTATUS table, times, mount points, volume parameters.</summary>
public sealed class WindowsRulesTests
{
    [TestCase("plain.txt", "plain.txt")]
    [TestCase("12:30.log", "12：30.log")]
    [TestCase("a\\b*c?d\"e<f>g|h", "a＼b＊c？d＂e＜f＞g｜h")]
    [TestCase("trailing.", "trailing．")]
    [TestCase("trailing ", "trailing␠")]
    [TestCase("mid. dle", "mid. dle")]
    [TestCase("CON", "ＣON")]
    [TestCase("con.txt", "ｃon.txt")]
    [TestCase("LPT1.tar.gz", "ＬPT1.tar.gz")]
    [TestCase("COM¹", "ＣOM¹")]
    [TestCase("CONSOLE.txt", "CONSOLE.txt")]
    [TestCase("tab\there", "tab␉here")]
    [TestCase("already：wide", "already‛：wide")]
    [TestCase("‛quote", "‛‛quote")]
    [TestCase("ＣON", "‛ＣON")]
    [TestCase("ＣAT", "ＣAT")]
    [TestCase("end．", "end‛．")]
    [TestCase("日本語.txt", "日本語.txt")]
    public void Names_windows_cannot_show_map_to_look_alikes_and_back(string store, string windows)
    {
        Assert.That(WindowsNames.ToWindows(store), Is.EqualTo(windows));
        Assert.That(WindowsNames.ToStore(windows), Is.EqualTo(store));
    }

    [Test]
    public void Every_name_round_trips()
    {
        const string alphabet = "ab.: *?\"<>|\\\t.CONPRLTUX1¹：＊．␠‛Ｃｃ";
        var random = new Random(7);
        for (int i = 0; i < 20000; i++)
        {
            var chars = new char[random.Next(1, 8)];
            for (int j = 0; j < chars.Length; j++) chars[j] = alphabet[random.Next(alphabet.Length)];
            string name = new(chars);
            string shown = WindowsNames.ToWindows(name);
            Assert.That(WindowsNames.ToStore(shown), Is.EqualTo(name), $"'{name}' shown as '{shown}'");
            Assert.That(shown.IndexOfAny("\\:*?\"<>|".ToCharArray()), Is.EqualTo(-1), shown);
            Assert.That(shown.Any(c => c < ' '), Is.False, shown);
            Assert.That(shown.EndsWith('.') || shown.EndsWith(' '), Is.False, shown);
            Assert.That(WindowsNames.IsReserved(shown), Is.False, shown);
        }
    }

    [TestCase("*.csv", "data.csv", true)]
    [TestCase("*.csv", "data.csv.bak", false)]
    [TestCase("*.CSV", "data.csv", true)]
    [TestCase("run-0?.csv", "run-07.csv", true)]
    [TestCase("run-0?.csv", "run-17.csv", false)]
    [TestCase("*", "anything", true)]
    [TestCase("a*b*c", "axxbyyc", true)]
    [TestCase("a*b*c", "axxbyy", false)]
    [TestCase("<.txt", "notes.txt", true)]
    [TestCase("<", "a.b.c", false)]
    [TestCase("<.c", "a.b.c", true)]
    [TestCase("file>>>.txt", "file1.txt", true)]
    [TestCase("file>>>.txt", "file1234.txt", false)]
    [TestCase("name\"*", "name", true)]
    [TestCase("name\"*", "name.ext", true)]
    [TestCase("exact.txt", "exact.txt", true)]
    [TestCase("exact.txt", "exact.txt2", false)]
    public void Patterns_follow_FsRtlIsNameInExpression(string pattern, string name, bool matches)
    {
        Assert.That(WildcardPattern.IsMatch(pattern, name), Is.EqualTo(matches));
    }

    [Test]
    public void Every_vfs_error_has_its_own_ntstatus()
    {
        var seen = new Dictionary<int, FsError>();
        foreach (var error in Enum.GetValues<FsError>())
        {
            int status = NtStatusMap.ToNtStatus(error);
            Assert.That(status, Is.LessThan(0), $"{error} is an error");
            if (error == FsError.Io) Assert.That(status, Is.EqualTo(NtStatus.IoDeviceError));
            else Assert.That(status, Is.Not.EqualTo(NtStatus.IoDeviceError), $"{error} is not a generic I/O error");
            if (error is not (FsError.NotPermitted or FsError.AccessDenied))
            {
                Assert.That(seen.TryAdd(status, error), Is.True, $"{error} and {seen.GetValueOrDefault(status)} share 0x{status:x8}");
            }
        }
        Assert.That(NtStatusMap.ToNtStatus(FsError.NotFound), Is.EqualTo(NtStatus.ObjectNameNotFound));
        Assert.That(NtStatusMap.ToNtStatus(FsError.Exists), Is.EqualTo(NtStatus.ObjectNameCollision));
        Assert.That(NtStatusMap.ToNtStatus(FsError.ReadOnly), Is.EqualTo(NtStatus.MediaWriteProtected));
        Assert.That(NtStatusMap.From(new OperationCanceledException()), Is.EqualTo(NtStatus.Cancelled));
        Assert.That(NtStatusMap.From(new CloudMount.Core.Storage.ObjectNotFoundException("k")), Is.EqualTo(NtStatus.ObjectNameNotFound));
    }

    [Test]
    public void File_times_are_filetime_and_attributes_follow_kind_and_mode()
    {
        Assert.That(FileInfoMapper.ToFileTime(DateTimeOffset.UnixEpoch), Is.EqualTo((ulong)FileInfoMapper.UnixEpochFileTime));
        var t = new DateTimeOffset(2025, 3, 4, 5, 6, 7, 891, TimeSpan.Zero);
        Assert.That(FileInfoMapper.FromFileTime(FileInfoMapper.ToFileTime(t)), Is.EqualTo(t));
        var file = new NodeAttributes(42, NodeKind.File, 5000, t, 0x1A4, 0, 0);
        var info = FileInfoMapper.ToFileInfo(file, readOnlyMount: false);
        Assert.That(info.FileAttributes, Is.EqualTo(WinConstants.FileAttributeArchive));
        Assert.That(info.AllocationSize, Is.EqualTo(8192UL));
        Assert.That(info.IndexNumber, Is.EqualTo(42UL));
        Assert.That(info.LastWriteTime, Is.EqualTo(FileInfoMapper.ToFileTime(t)));
        Assert.That(FileInfoMapper.ToFileInfo(file with { Mode = 0x124 }, false).FileAttributes & WinConstants.FileAttributeReadOnly, Is.Not.Zero, "0444 is read-only");
        Assert.That(FileInfoMapper.ToFileInfo(file with { Kind = NodeKind.Directory }, true).FileAttributes, Is.EqualTo(WinConstants.FileAttributeDirectory));
    }

    [Test]
    public void Mount_points_are_checked_before_any_request()
    {
        var existing = new HashSet<string> { "C:\\", "D:\\", "C:\\data", "C:\\data\\used" };
        string Check(string m) => WindowsMountPoint.Check(m, existing.Contains, p => p.Contains(':') ? p : "C:\\data\\" + p);
        Assert.That(Check("x:"), Is.EqualTo("X:"));
        Assert.That(Check("Y:\\"), Is.EqualTo("Y:"));
        Assert.That(Check("*"), Is.EqualTo("*"));
        Assert.That(Check("C:\\data\\bucket"), Is.EqualTo("C:\\data\\bucket"));
        Assert.That(Check("bucket"), Is.EqualTo("C:\\data\\bucket"));
        Assert.That(() => Check("D:"), Throws.ArgumentException.With.Message.Contains("in use"));
        Assert.That(() => Check("C:\\data\\used"), Throws.ArgumentException.With.Message.Contains("exists"));
        Assert.That(() => Check("C:\\missing\\bucket"), Throws.ArgumentException.With.Message.Contains("does not exist"));
    }

    [Test]
    public void The_volume_declares_case_sensitivity_and_one_context_per_handle()
    {
        var p = WinFspMountParameters(new VfsOptions { MetadataTtl = TimeSpan.FromSeconds(3) });
        Assert.That(p.Version, Is.EqualTo((ushort)504));
        Assert.That(p.Flags & FspVolumeFlags.CaseSensitiveSearch, Is.Not.Zero);
        Assert.That(p.Flags & FspVolumeFlags.CasePreservedNames, Is.Not.Zero);
        Assert.That(p.Flags & FspVolumeFlags.UnicodeOnDisk, Is.Not.Zero);
        Assert.That(p.Flags & FspVolumeFlags.UmFileContextIsUserContext2, Is.Not.Zero);
        Assert.That(p.Flags & FspVolumeFlags.PassQueryDirectoryPattern, Is.Not.Zero);
        Assert.That(p.Flags & FspVolumeFlags.ReadOnlyVolume, Is.Zero);
        Assert.That(p.Flags & FspVolumeFlags.SupportsPosixUnlinkRename, Is.Zero);
        Assert.That(p.FileInfoTimeout, Is.EqualTo(3000u));
        Assert.That(p.MaxComponentLength, Is.EqualTo((ushort)255));
        Assert.That(WinFspMountParameters(new VfsOptions { ReadOnly = true }).Flags & FspVolumeFlags.ReadOnlyVolume, Is.Not.Zero);
    }

    private static FspVolumeParams WinFspMountParameters(VfsOptions options) => VolumeParameters.For(options, DateTimeOffset.UnixEpoch);
}
