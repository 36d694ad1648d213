using System.Runtime.InteropServices;
using CloudMount.Linux.Interop;
using CloudMount.Tests.Support;

namespace CloudMount.Tests.Interop;

/// <summary>
/// Checks every struct size, field offset, bitfield mask and constant of our libfuse3 binding against the C
/// headers (libfuse3-dev): layout.c is compiled with gcc and prints the real values.
/// </summary>
public sealed class LayoutTests
{
    private static Dictionary<string, long> _c = null!;

    [OneTimeSetUp]
    public static async Task CompileAndRun()
    {
        string exe = Path.Combine(Paths.NewDir("layout"), "layout");
        string src = Path.Combine(AppContext.BaseDirectory, "Interop", "layout.c");
        await ProcessRunner.BashOkAsync($"gcc $(pkg-config --cflags fuse3) -o {ProcessRunner.Q(exe)} {ProcessRunner.Q(src)}");
        string output = await ProcessRunner.BashOkAsync(ProcessRunner.Q(exe));
        _c = output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' '))
            .ToDictionary(f => string.Join(" ", f[..^1]), f => long.Parse(f[^1]));
    }

    private static readonly (string C, Type Managed)[] Structs =
    [
        ("struct stat", typeof(Stat)),
        ("struct timespec", typeof(Timespec)),
        ("struct fuse_entry_param", typeof(FuseEntryParam)),
        ("struct fuse_file_info", typeof(FuseFileInfo)),
        ("struct fuse_conn_info", typeof(FuseConnInfo)),
        ("struct fuse_args", typeof(FuseArgs)),
        ("struct fuse_ctx", typeof(FuseCtx)),
        ("struct fuse_forget_data", typeof(FuseForgetData)),
        ("struct statvfs", typeof(Statvfs)),
        ("struct fuse_lowlevel_ops", typeof(FuseLowlevelOps)),
    ];

    private static string ManagedName(string cField) =>
        string.Concat(cField.Split('_', StringSplitOptions.RemoveEmptyEntries).Select(p => char.ToUpperInvariant(p[0]) + p[1..]));

    [Test]
    public void Struct_sizes_match_the_headers()
    {
        foreach (var (c, t) in Structs)
        {
            Assert.That(Marshal.SizeOf(t), Is.EqualTo(_c[$"sizeof {c}"]), $"sizeof {c}");
        }
    }

    [Test]
    public void Every_bound_field_sits_at_the_offset_the_headers_give()
    {
        int checkedFields = 0;
        foreach (var (key, value) in _c.Where(kv => kv.Key.StartsWith("offset ", StringComparison.Ordinal)))
        {
            string qualified = key["offset ".Length..];
            int dot = qualified.LastIndexOf('.');
            string cStruct = qualified[..dot], cField = qualified[(dot + 1)..];
            var t = Structs.Single(s => s.C == cStruct).Managed;
            string name = ManagedName(cField);
            Assert.That(t.GetField(name), Is.Not.Null, $"{t.Name} has no field {name} for {qualified}");
            Assert.That((long)Marshal.OffsetOf(t, name), Is.EqualTo(value), qualified);
            checkedFields++;
        }
        Assert.That(checkedFields, Is.GreaterThan(80));
    }

    [TestCase("writepage", FuseFileInfoBits.WritePage)]
    [TestCase("direct_io", FuseFileInfoBits.DirectIo)]
    [TestCase("keep_cache", FuseFileInfoBits.KeepCache)]
    [TestCase("flush", FuseFileInfoBits.Flush)]
    [TestCase("nonseekable", FuseFileInfoBits.NonSeekable)]
    [TestCase("flock_release", FuseFileInfoBits.FlockRelease)]
    [TestCase("cache_readdir", FuseFileInfoBits.CacheReaddir)]
    [TestCase("noflush", FuseFileInfoBits.NoFlush)]
    public void File_info_bitfield_masks_match(string field, uint mask)
    {
        Assert.That(Marshal.OffsetOf<FuseFileInfo>(nameof(FuseFileInfo.Bits)), Is.EqualTo((nint)sizeof(int)), "the bitfield word follows flags");
        Assert.That(mask, Is.EqualTo((uint)_c[$"bit fuse_file_info.{field}"]));
    }

    [TestCase("FUSE_CAP_ASYNC_READ", FuseCapabilities.AsyncRead)]
    [TestCase("FUSE_CAP_ATOMIC_O_TRUNC", FuseCapabilities.AtomicOTrunc)]
    [TestCase("FUSE_CAP_EXPORT_SUPPORT", FuseCapabilities.ExportSupport)]
    [TestCase("FUSE_CAP_AUTO_INVAL_DATA", FuseCapabilities.AutoInvalData)]
    [TestCase("FUSE_CAP_READDIRPLUS", FuseCapabilities.ReaddirPlus)]
    [TestCase("FUSE_CAP_READDIRPLUS_AUTO", FuseCapabilities.ReaddirPlusAuto)]
    [TestCase("FUSE_CAP_ASYNC_DIO", FuseCapabilities.AsyncDio)]
    [TestCase("FUSE_CAP_WRITEBACK_CACHE", FuseCapabilities.WritebackCache)]
    [TestCase("FUSE_CAP_PARALLEL_DIROPS", FuseCapabilities.ParallelDirops)]
    public void Capability_bits_match(string name, uint value) => Assert.That(value, Is.EqualTo((uint)_c[$"const {name}"]));

    [TestCase("FUSE_SET_ATTR_MODE", FuseSetAttr.Mode)]
    [TestCase("FUSE_SET_ATTR_UID", FuseSetAttr.Uid)]
    [TestCase("FUSE_SET_ATTR_GID", FuseSetAttr.Gid)]
    [TestCase("FUSE_SET_ATTR_SIZE", FuseSetAttr.Size)]
    [TestCase("FUSE_SET_ATTR_ATIME", FuseSetAttr.Atime)]
    [TestCase("FUSE_SET_ATTR_MTIME", FuseSetAttr.Mtime)]
    [TestCase("FUSE_SET_ATTR_ATIME_NOW", FuseSetAttr.AtimeNow)]
    [TestCase("FUSE_SET_ATTR_MTIME_NOW", FuseSetAttr.MtimeNow)]
    public void Setattr_bits_match(string name, int value) => Assert.That(value, Is.EqualTo((int)_c[$"const {name}"]));

    [Test]
    public async Task The_loop_entry_point_is_the_fuse_3_12_symbol()
    {
        string symbols = await ProcessRunner.BashOkAsync("objdump -T $(ldconfig -p | awk '/libfuse3.so.3 /{print $NF; exit}') | grep -E 'fuse_session_loop_mt_312|fuse_loop_cfg_create'");
        Assert.That(symbols, Does.Contain("FUSE_3.12").And.Contain("fuse_session_loop_mt_312"));
    }
}
