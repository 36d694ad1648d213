using CloudMount.Tests.Model;
using CloudMount.Tests.Support;

namespace CloudMount.Tests.Fuse;

/// <summary>
/// The model test's sequences at the syscall level: each op runs as a real syscall on a directory of a real
/// <c>cloudmount mount</c> and on a local directory, and answers, errno, bytes and the tree after every step are
/// compared (with the documented divergences of <see cref="Divergences"/>); at the end every descriptor is closed,
/// contents are compared, and where the store outlives the process the mount is restarted and compared again.
/// A failure is shrunk (each try in a fresh directory, the mount restarted if a try killed it) and printed as steps.
/// A syscall that does not return within its bound fails the run as a hang; the FUSE connection is then aborted.
/// </summary>
public abstract class SyscallModelTests
{
    private MountProcess? _mount;
    private string _url = "";
    private string[] _args = [];
    private Dictionary<string, string?> _env = [];
    private readonly string _cache = Paths.NewDir("syscall-cache");
    private readonly string _mnt = Paths.NewDir("syscall-mnt");
    private readonly List<string> _deaths = [];

    /// <summary>The URL to mount, extra CLI arguments and environment.</summary>
    protected abstract Task<(string Url, string[] Args, Dictionary<string, string?> Env)> PrepareAsync();

    /// <summary>Whether the store outlives the mount process (not mem://), so a restart can be compared.</summary>
    protected abstract bool Persistent { get; }

    /// <summary>Whether the store keeps object metadata (symlinks, xattrs); file:// does not.</summary>
    protected virtual bool KeepsMetadata => true;

    /// <summary>The backend's name in test names and known-defect tables.</summary>
    protected abstract string Backend { get; }

    private const double Ttl = 0.3;

    [OneTimeSetUp]
    public async Task MountIt()
    {
        (_url, _args, _env) = await PrepareAsync();
        await StartAsync();
    }

    private async Task StartAsync()
    {
        _mount = await MountProcess.StartAsync(_url, _mnt, _args.Concat(["--metadata-ttl", $"{Ttl}", "--negative-ttl", $"{Ttl}", "--cache-dir", _cache]), _env);
    }

    /// <summary>Stops the mount (or what is left of it) and starts it again on the same store and cache folder.</summary>
    private async Task RestartAsync()
    {
        if (_mount is not null)
        {
            try
            {
                if (!_mount.HasExited && !await AliveAsync()) _mount.Kill();
                await _mount.DisposeAsync();
            }
            catch (AssertionException)
            {
                // A mount that died or hung: DisposeAsync already unmounted what was left.
            }
        }
        await StartAsync();
    }

    /// <summary>The process runs, the mount is there and its root answers a stat within seconds (a crashed daemon answers ENOTCONN).</summary>
    private async Task<bool> AliveAsync()
    {
        if (_mount is not { } m || m.HasExited || !Mounts.IsMounted(_mnt)) return false;
        // A name never seen before: its LOOKUP must reach the daemon (the root's attributes may be cached).
        string probe = Path.Combine(_mnt, ".alive-" + Guid.NewGuid().ToString("n")[..8]);
        var stat = Task.Run(() => Libc.Stat(probe, follow: false, out _));
        return await Task.WhenAny(stat, Task.Delay(TimeSpan.FromSeconds(10))) == stat && await stat == 2; // ENOENT
    }

    [OneTimeTearDown]
    public async Task UnmountIt()
    {
        if (_mount is null) return;
        string log = await _mount.StopAsync();
        await _mount.DisposeAsync();
        TestContext.Out.WriteLine(log.Split('\n').LastOrDefault(l => l.Contains("unmounted")));
        if (_deaths.Count > 0) TestContext.Out.WriteLine($"the mount died or hung {_deaths.Count} times in this fixture: {string.Join("; ", _deaths)}");
        Assert.That(Mounts.IsMounted(_mnt), Is.False);
    }

    /// <summary>Aborts the FUSE connection of the mount, so a thread stuck in a syscall returns (ENOTCONN).</summary>
    private async Task AbortConnectionAsync()
    {
        _deaths.Add("hang");
        if (Libc.Stat(_mnt, follow: true, out var st) == 0) await File.WriteAllTextAsync($"/sys/fs/fuse/connections/{st.DevMinor}/abort", "1");
    }

    private RunSetup Setup() => new(
        Reference: () => Task.FromResult<ITarget>(new SyscallTarget("local", Paths.NewDir("syscall-local"))),
        UnderTest: async _ =>
        {
            if (!await AliveAsync())
            {
                _deaths.Add($"dead before a run (exit {_mount?.ExitCode}): {_mount?.Stderr.Split('\n').Where(l => l.Contains("Unhandled") || l.Contains("rror")).Take(2).Aggregate("", (a, b) => a + b)}");
                await RestartAsync();
            }
            string dir = Path.Combine(_mnt, "r" + Guid.NewGuid().ToString("n")[..8]);
            try
            {
                Directory.CreateDirectory(dir);
            }
            catch (IOException e)
            {
                _deaths.Add($"dead at the start of a run: {e.Message}");
                await RestartAsync();
                Directory.CreateDirectory(dir);
            }
            return new SyscallTarget($"mount ({Backend})", dir)
            {
                Bound = TimeSpan.FromSeconds(60),
                OnHang = AbortConnectionAsync,
                TickDelay = TimeSpan.FromSeconds(Ttl + 0.2),
                Remount = Persistent ? RestartAsync : null,
            };
        },
        Compare: new CompareOptions(),
        RemountAtEnd: Persistent,
        StoreKeepsMetadata: KeepsMetadata);

    private async Task CheckAsync(string title, int seed, List<Op> ops)
    {
        var setup = Setup();
        var result = await Runner.RunAsync(setup, ops);
        if (result.Failure is null)
        {
            TestContext.Out.WriteLine($"{title}: seed {seed}, {ops.Count} steps, no divergence");
            return;
        }
        TestContext.Out.WriteLine($"{title}: seed {seed} diverged at step {result.Failure.Step + 1}: {result.Failure.Signature}; shrinking\n{Runner.Describe(result, ops)}");
        var (kept, shrunk, best) = await Runner.ShrinkAsync(setup, ops, result, budget: 60, time: TimeSpan.FromSeconds(150), tries: 2);
        string report = Runner.Report(title, seed, ops, kept, shrunk, best);
        TestContext.Out.WriteLine(report);
        Assert.Fail(report);
    }

    private static GenOptions Options(bool persistent, string family) =>
        new(SyscallOnly: true, Remount: persistent, Avoid: family == "all" ? null : KnownDefects.MountAvoid);

    /// <summary>Seeds per backend and family; those failing on main are in KnownDefects.FailingMountSeeds.</summary>
    protected static IEnumerable<TestCaseData> Seeds(string backend)
    {
        foreach (var family in new[] { "all", "avoiding-known" })
        {
            for (int seed = 1; seed <= 3; seed++)
            {
                var c = new TestCaseData(seed, family).SetName($"Syscalls_match_a_local_directory_seed{seed:00}_{family}");
                if (KnownDefects.FailingMountSeeds.TryGetValue($"{backend} {seed} {family}", out var why)) c.SetCategory("KnownDefect").SetDescription(why);
                yield return c;
            }
        }
    }

    [TestCaseSource("SeedCases")]
    public Task Syscalls_match_a_local_directory(int seed, string family) =>
        CheckAsync($"mount ({Backend}, {family}) vs local", seed, Generator.Generate(seed, 150, Options(Persistent, family)));

    /// <summary>fsx-like: random I/O on one file through two descriptors (closes, reopens, truncates), compared with the same on a local file.</summary>
    [Test]
    public Task Fsx_two_descriptors_match_a_local_file() =>
        CheckAsync($"fsx on mount ({Backend}) vs local", 1, Generator.Fsx(1, 250));

    /// <summary>One more seed per run (printed): random with CLOUDMOUNT_MODEL_RANDOM=1, else fixed so CI is deterministic; CLOUDMOUNT_MODEL_SEED picks it; a divergence matching a known defect is reported, not failed.</summary>
    [Test, Explicit("exploration: run with CLOUDMOUNT_MODEL_RANDOM=1 (or CLOUDMOUNT_MODEL_SEED=N) and --filter Name~A_random_seed; the fixed seeds above run in every test run")]
    public async Task A_random_seed_matches_a_local_directory()
    {
        int seed = Environment.GetEnvironmentVariable("CLOUDMOUNT_MODEL_SEED") is { } s ? int.Parse(s)
            : Environment.GetEnvironmentVariable("CLOUDMOUNT_MODEL_RANDOM") == "1" ? Random.Shared.Next(1000, 1_000_000) : 424242; // CI stays deterministic
        TestContext.Out.WriteLine($"random seed: {seed} (CLOUDMOUNT_MODEL_SEED={seed} runs it again)");
        var ops = Generator.Generate(seed, 150, Options(Persistent, "avoiding-known"));
        var setup = Setup();
        var result = await Runner.RunAsync(setup, ops);
        if (result.Failure is null) return;
        var (kept, shrunk, best) = await Runner.ShrinkAsync(setup, ops, result, budget: 60, time: TimeSpan.FromSeconds(150), tries: 2);
        string report = Runner.Report($"mount ({Backend}) vs local", seed, ops, kept, shrunk, best);
        TestContext.Out.WriteLine(report);
        if (await KnownDefects.MatchesMountAsync(best.Failure!, setup) is { } known)
        {
            TestContext.Out.WriteLine($"this is known defect '{known}' (KnownDefects.cs); not failing the suite for it");
            return;
        }
        Assert.Fail(report);
    }

    /// <summary>Each known mount-level defect's shortest reproduction: fails until it is fixed.</summary>
    [TestCaseSource(typeof(KnownDefects), nameof(KnownDefects.MountCases))]
    public async Task Known_defect_reproduction(string name, string steps)
    {
        var ops = Model.Steps.Parse(steps);
        var result = await Runner.RunAsync(Setup() with { TolerateKnown = false }, ops);
        Assert.That(result.Failure, Is.Null, $"{name} ({Backend}):\n{Runner.Describe(result, ops)}");
    }
}

[TestFixture]
public sealed class MemorySyscallModel : SyscallModelTests
{
    public static IEnumerable<TestCaseData> SeedCases() => Seeds("mem");

    protected override bool Persistent => false;
    protected override string Backend => "mem";

    protected override Task<(string, string[], Dictionary<string, string?>)> PrepareAsync() =>
        Task.FromResult(("mem://model", Array.Empty<string>(), new Dictionary<string, string?>()));
}

[TestFixture]
public sealed class LocalFsSyscallModel : SyscallModelTests
{
    public static IEnumerable<TestCaseData> SeedCases() => Seeds("file");

    protected override bool Persistent => true;
    protected override bool KeepsMetadata => false;
    protected override string Backend => "file";

    protected override Task<(string, string[], Dictionary<string, string?>)> PrepareAsync() =>
        Task.FromResult(("file://" + Paths.NewDir("syscall-bucket"), Array.Empty<string>(), new Dictionary<string, string?>()));
}

[TestFixture]
public sealed class SwiftS3SyscallModel : SyscallModelTests
{
    public static IEnumerable<TestCaseData> SeedCases() => Seeds("s3");

    protected override bool Persistent => true;
    protected override string Backend => "s3";

    protected override async Task<(string, string[], Dictionary<string, string?>)> PrepareAsync()
    {
        var server = await TestServers.Swift;
        string bucket = await server.NewBucketAsync("model");
        return ($"s3://{bucket}", ["--endpoint", server.Endpoint.ToString()], server.Env);
    }
}
