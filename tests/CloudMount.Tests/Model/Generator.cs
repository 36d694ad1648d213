namespace CloudMount.Tests.Model;

/// <summary>What a generated sequence may contain.</summary>
/// <param name="Slots">Descriptor slots (several handles on one file come from several slots on one path).</param>
/// <param name="SyscallOnly">Ops that only a real mount can run: link(2), and times .NET cannot represent.</param>
/// <param name="LargeWrites">Allow writes of megabytes (multipart uploads while the file is written).</param>
/// <param name="Remount">Allow remount steps.</param>
/// <param name="Ticks">Allow steps where time passes beyond the metadata TTL.</param>
/// <param name="Avoid">Op patterns left out because they hit a known defect (see KnownDefects), so a run can find the next one.</param>
public sealed record GenOptions(int Slots = 3, bool SyscallOnly = false, bool LargeWrites = true, bool Remount = true, bool Ticks = true, IReadOnlySet<string>? Avoid = null)
{
    public bool Avoids(string pattern) => Avoid?.Contains(pattern) == true;
}

/// <summary>
/// Random op sequences from a seed. Ops are drawn without looking at any state (names from a small pool, so they
/// collide often), which keeps every prefix and every subset of a sequence meaningful: shrinking removes steps
/// and the rest still runs.
/// </summary>
public static class Generator
{
    private static readonly string[] Files = ["a", "b", "c"];
    private static readonly string[] Dirs = ["d", "e"];
    private static readonly string[] Targets = ["a", "b", "d", "d/a", "zz"];
    private static readonly string[] XattrNames = ["user.k1", "user.k2", "user.color"];
    private static readonly string[] XattrValues = ["v1", "blue", "a-longer-value_with.punct+=#", ""];

    public static List<Op> Generate(int seed, int count, GenOptions? options = null)
    {
        var o = options ?? new GenOptions();
        var rng = new Random(seed);
        var ops = new List<Op>(count);
        int lastOpened = 0;
        while (ops.Count < count)
        {
            var op = Next(rng, o, ref lastOpened);
            if (!Avoided(op, o)) ops.Add(op);
        }
        return ops;
    }

    /// <summary>fsx-style sequences: two descriptors on one file, random writes, reads, truncates, closes and reopens.</summary>
    public static List<Op> Fsx(int seed, int count, long maxSize = 300_000)
    {
        var rng = new Random(seed);
        var ops = new List<Op> { new OpenOp("fsx", 0, Access.RW, Create: true), new OpenOp("fsx", 1, Access.RW) };
        for (int i = 0; i < count; i++)
        {
            int fd = rng.Next(2);
            int p = rng.Next(100);
            ops.Add(p switch
            {
                < 35 => new WriteOp(fd, rng.NextInt64(maxSize), rng.Next(1, 65_536), rng.Next(1000)),
                < 70 => new ReadOp(fd, rng.NextInt64(maxSize), rng.Next(1, 65_536)),
                < 80 => new FtruncateOp(fd, rng.NextInt64(maxSize)),
                < 85 => new FsyncOp(fd),
                < 88 => new TruncateOp("fsx", rng.NextInt64(maxSize)),
                < 91 => new CatOp("fsx"),
                < 96 => new CloseOp(fd, LateRelease: rng.Next(2) == 0),
                _ => new OpenOp("fsx", fd, Access.RW, Append: rng.Next(4) == 0),
            });
            if (ops[^1] is CloseOp c) ops.Add(new OpenOp("fsx", c.Slot, Access.RW, Trunc: rng.Next(8) == 0));
        }
        return ops;
    }

    /// <summary>Whether an op falls under a pattern of <see cref="GenOptions.Avoid"/>.</summary>
    public static bool Avoided(Op op, GenOptions o) => o.Avoid is { Count: > 0 } && o.Avoid.Any(p => KnownDefects.Triggers(p, op));

    private static T Pick<T>(Random r, T[] items) => items[r.Next(items.Length)];

    private static string Name(Random r, bool dir)
    {
        int p = r.Next(100);
        if (p < 2) return new string('n', 256);
        if (p < 4) return new string('m', 255);
        return dir ? Pick(r, Dirs) : p < 90 ? Pick(r, Files) : Pick(r, Dirs);
    }

    /// <summary>A path of depth 1 to 3 whose last name is a file name (or, for directories, a directory name).</summary>
    private static string Path(Random r, bool dir = false)
    {
        int depth = r.Next(100) switch { < 65 => 1, < 93 => 2, _ => 3 };
        var parts = new List<string>();
        for (int i = 0; i < depth - 1; i++) parts.Add(Pick(r, Dirs));
        parts.Add(Name(r, dir));
        return string.Join('/', parts);
    }

    private static Ts Time(Random r, bool syscallOnly)
    {
        int p = r.Next(100);
        long nsec = r.Next(3) == 0 ? 0 : r.Next(1_000_000_000);
        return p switch
        {
            < 40 => new Ts(1_700_000_000 + r.Next(100_000_000), nsec),
            < 48 => new Ts(0, nsec),
            < 54 => new Ts(-1, nsec),
            < 60 => new Ts(int.MaxValue + 1L, 0),
            < 65 => new Ts(253402300799, 999_999_900),           // the last 100 ns .NET can hold
            < 70 => new Ts(-62135596800, 0),                      // 0001-01-01, .NET's first instant
            < 75 => new Ts(-2_000_000_000, nsec),
            < 80 => Ts.Now,
            < 85 => Ts.Omit,
            _ when !syscallOnly => new Ts(4_102_444_800, nsec), // 2100
            < 90 => new Ts(1_000_000_000_000, 0),                 // os.utime(f, (10**12, 10**12))
            < 94 => new Ts(-99_999_999_999, 0),                   // touch -d @-99999999999
            < 97 => new Ts(long.MaxValue / 2, 0),
            _ => new Ts(1_700_000_000, 1_000_000_000),            // invalid nanoseconds: EINVAL
        };
    }

    private static long Size(Random r, bool large) => r.Next(100) switch
    {
        < 25 => 0,
        < 75 => r.Next(2000),
        < 85 => r.Next(200_000),
        < 88 when large => r.Next(3 << 20),
        < 93 => Pick(r, [999_999_999_999_999L, long.MaxValue, 1L << 62]), // EFBIG
        < 96 => -1,                                                         // EINVAL
        _ => r.Next(10),
    };

    private static Op Next(Random r, GenOptions o, ref int lastOpened)
    {
        // Descriptor ops mostly go to the slot opened last, so they seldom find it empty.
        int slot = r.Next(100) < 70 ? lastOpened : r.Next(o.Slots);
        int p = r.Next(1000);
        switch (p)
        {
            case < 180:
            {
                var access = r.Next(100) switch { < 25 => Access.R, < 50 => Access.W, _ => Access.RW };
                bool write = access != Access.R;
                bool create = write ? r.Next(100) < 70 : r.Next(100) < 5;
                slot = lastOpened = r.Next(o.Slots);
                return new OpenOp(Path(r), slot, access, create, create && r.Next(100) < 15, write && r.Next(100) < 15, write && r.Next(100) < 20);
            }
            case < 380:
            {
                int q = r.Next(100);
                (long off, int len) = q switch
                {
                    < 70 => ((long)r.Next(600), r.Next(301)),
                    < 90 => (r.Next(20_000), r.Next(1, 8192)),
                    < 98 => (r.Next(300_000), r.Next(130_000, 600_000)),
                    _ when !o.LargeWrites => (r.Next(300_000), r.Next(130_000, 600_000)),
                    _ => (r.Next(2) == 0 ? 0 : r.Next(1 << 20), r.Next(5 << 19, 4 << 20)),
                };
                return new WriteOp(slot, off, len, r.Next(1000));
            }
            case < 470:
            {
                long off = r.Next(100) switch { < 50 => r.Next(1000), < 80 => r.Next(20_000), _ => r.Next(700_000) };
                return new ReadOp(slot, off, r.Next(10) == 0 ? 1 << 20 : r.Next(1, 4097));
            }
            case < 530: return new CloseOp(slot, LateRelease: r.Next(3) == 0);
            case < 555: return new TruncateOp(Path(r), Size(r, o.LargeWrites));
            case < 580: return new FtruncateOp(slot, Size(r, o.LargeWrites));
            case < 595: return new FsyncOp(slot);
            case < 635: return new UnlinkOp(Path(r));
            case < 675: return new MkdirOp(Path(r, dir: r.Next(4) != 0));
            case < 695: return new RmdirOp(Path(r, dir: r.Next(4) != 0));
            case < 745: return new RenameOp(Path(r, dir: r.Next(3) == 0), Path(r, dir: r.Next(3) == 0), NoReplace: r.Next(6) == 0);
            case < 770: return new SymlinkOp(Pick(r, Targets), Path(r));
            case < 778: return new ReadlinkOp(Path(r));
            case < 800: return new StatOp(Path(r));
            case < 830: return new UtimensOp(Path(r), r.Next(3) == 0 ? Ts.Omit : Time(r, o.SyscallOnly), Time(r, o.SyscallOnly) is var m && m.IsOmit ? Ts.Now : m);
            case < 838: return new ChmodOp(Path(r), (uint)Pick(r, [0x1A4, 0x180, 0x1ED, 0x124]));
            case < 868:
            {
                int flag = r.Next(10);
                return new SetXattrOp(Path(r), Pick(r, XattrNames), Pick(r, XattrValues), Create: flag < 2, Replace: flag == 2);
            }
            case < 885: return new GetXattrOp(Path(r), Pick(r, XattrNames));
            case < 893: return new ListXattrOp(Path(r));
            case < 901: return new RemoveXattrOp(Path(r), Pick(r, XattrNames));
            case < 930: return new ReaddirOp(r.Next(3) == 0 ? Path(r, dir: true) : Pick(r, Dirs));
            case < 975: return new CatOp(Path(r));
            case < 985 when o.Ticks: return new TickOp();
            case < 990: return new DropCachesOp();
            case < 995 when o.Remount: return new RemountOp();
            case < 1000 when o.SyscallOnly: return new LinkOp(Path(r), Path(r));
            default: return new StatOp(Path(r));
        }
    }
}
