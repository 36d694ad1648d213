using CloudMount.Tests.Support;

namespace CloudMount.Tests.Model;

/// <summary>
/// The reference-model test (mountpoint-s3's reftests idea): random op sequences on the Vfs over mem://, driven as
/// the kernel drives it, compared after every step with the POSIX model (results, errno, bytes, listings, sizes),
/// then closed, compared with contents, remounted and compared again (what the store holds). A failure is shrunk to
/// the shortest sequence that shows it and printed as steps that can be replayed
/// (<c>CLOUDMOUNT_MODEL_REPLAY='...' dotnet test --filter Name~Replay</c>).
/// </summary>
[TestFixture]
public sealed class VfsModelTests
{
    private const int Steps = 300;

    /// <summary>The reference and the Vfs for one run, sharing one manual clock.</summary>
    public static RunSetup Setup(VfsConfig config)
    {
        ManualClock? clock = null;
        return new RunSetup(
            Reference: () =>
            {
                clock = new ManualClock();
                var c = clock;
                return Task.FromResult<ITarget>(new PosixModel(() => c.GetUtcNow().UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks));
            },
            UnderTest: _ => Task.FromResult<ITarget>(new VfsTarget(config, clock)),
            Compare: new CompareOptions(Mtimes: config.PosixAttributes, Modes: config.PosixAttributes));
    }

    /// <summary>Runs a sequence; on a failure, shrinks it and fails the test with the shortest sequence found.</summary>
    public static async Task CheckAsync(string title, int seed, List<Op> ops, RunSetup setup, int budget = 400)
    {
        var result = await Runner.RunAsync(setup, ops);
        if (result.Failure is null)
        {
            TestContext.Out.WriteLine($"{title}: seed {seed}, {ops.Count} steps, no divergence");
            return;
        }
        TestContext.Out.WriteLine($"{title}: seed {seed} diverged at step {result.Failure.Step + 1}: {result.Failure.Signature}; shrinking");
        var (kept, shrunk, best) = await Runner.ShrinkAsync(setup, ops, result, budget);
        string report = Runner.Report(title, seed, ops, kept, shrunk, best);
        TestContext.Out.WriteLine(report);
        Assert.Fail(report);
    }

    /// <summary>
    /// Two families: "all" draws every op; "avoiding-known" leaves out the op kinds whose known defect changes the
    /// tree (KnownDefects.Avoid), so it keeps checking everything else while those defects are open.
    /// </summary>
    private static IEnumerable<TestCaseData> Seeds()
    {
        foreach (var config in new[] { new VfsConfig(), new VfsConfig(PosixAttributes: true) })
        {
            foreach (var family in new[] { "all", "avoiding-known" })
            {
                for (int seed = 1; seed <= (family == "all" ? 4 : 12); seed++)
                {
                    var c = new TestCaseData(seed, config, family).SetName($"Random_sequences_match_the_posix_model_seed{seed:00}_{config}_{family}");
                    if (KnownDefects.FailingSeeds.TryGetValue((seed, $"{config}_{family}"), out var why)) c.SetCategory("KnownDefect").SetDescription(why);
                    yield return c;
                }
            }
        }
    }

    private static GenOptions Family(string family) => family == "all" ? new GenOptions() : new GenOptions(Avoid: KnownDefects.Avoid);

    [TestCaseSource(nameof(Seeds))]
    public Task Random_sequences_match_the_posix_model(int seed, VfsConfig config, string family) =>
        CheckAsync($"vfs ({config}, {family}) vs model", seed, Generator.Generate(seed, Steps, Family(family)), Setup(config));

    /// <summary>One more seed per run (printed): random with CLOUDMOUNT_MODEL_RANDOM=1, else fixed so CI is deterministic; CLOUDMOUNT_MODEL_SEED picks it. A divergence that matches a known defect is reported, not failed.</summary>
    [Test]
    public async Task A_random_seed_matches_the_posix_model()
    {
        int seed = Environment.GetEnvironmentVariable("CLOUDMOUNT_MODEL_SEED") is { } s ? int.Parse(s)
            : Environment.GetEnvironmentVariable("CLOUDMOUNT_MODEL_RANDOM") == "1" ? Random.Shared.Next(1000, 1_000_000) : 424243; // CI stays deterministic
        TestContext.Out.WriteLine($"random seed: {seed} (CLOUDMOUNT_MODEL_SEED={seed} runs it again)");
        var config = new VfsConfig(PosixAttributes: seed % 2 == 0);
        var ops = Generator.Generate(seed, Steps, Family("avoiding-known"));
        var setup = Setup(config);
        var result = await Runner.RunAsync(setup, ops);
        if (result.Failure is null) return;
        var (kept, shrunk, best) = await Runner.ShrinkAsync(setup, ops, result);
        string report = Runner.Report($"vfs ({config}) vs model", seed, ops, kept, shrunk, best);
        TestContext.Out.WriteLine(report);
        if (await KnownDefects.MatchAsync(best.Failure!, config) is { } known)
        {
            TestContext.Out.WriteLine($"this is known defect '{known}' (KnownDefects.cs); not failing the suite for it");
            return;
        }
        Assert.Fail(report);
    }

    /// <summary>Replays CLOUDMOUNT_MODEL_REPLAY (steps as a failure prints them); passes with a note when it is not set.</summary>
    [Test]
    public async Task Replay()
    {
        if (Environment.GetEnvironmentVariable("CLOUDMOUNT_MODEL_REPLAY") is not { Length: > 0 } text)
        {
            Assert.Pass("set CLOUDMOUNT_MODEL_REPLAY='op; op; ...' (and CLOUDMOUNT_MODEL_POSIX=1 for --posix-attrs) to replay a sequence");
            return;
        }
        var config = new VfsConfig(PosixAttributes: Environment.GetEnvironmentVariable("CLOUDMOUNT_MODEL_POSIX") == "1");
        var ops = Model.Steps.Parse(text);
        var result = await Runner.RunAsync(Setup(config) with { TolerateKnown = Environment.GetEnvironmentVariable("CLOUDMOUNT_MODEL_TOLERATE") == "1" }, ops);
        TestContext.Out.WriteLine(Runner.Describe(result, ops));
        Assert.That(result.Failure, Is.Null, Runner.Describe(result, ops));
    }

    private static IEnumerable<TestCaseData> Reproductions() => KnownDefects.VfsCases();

    /// <summary>Each known defect's shortest reproduction: fails until the defect is fixed.</summary>
    [TestCaseSource(nameof(Reproductions))]
    public async Task Known_defect_reproduction(string name, string steps, bool posix)
    {
        var ops = Model.Steps.Parse(steps);
        var result = await Runner.RunAsync(Setup(new VfsConfig(posix)) with { TolerateKnown = false }, ops);
        Assert.That(result.Failure, Is.Null, $"{name}:\n{Runner.Describe(result, ops)}");
    }

    private static IEnumerable<TestCaseData> FsxSeeds()
    {
        for (int seed = 1; seed <= 4; seed++)
        {
            var c = new TestCaseData(seed).SetName($"Fsx_two_descriptors_on_one_file_seed{seed:00}");
            if (KnownDefects.FailingFsxSeeds.TryGetValue(seed, out var why)) c.SetCategory("KnownDefect").SetDescription(why);
            yield return c;
        }
    }

    /// <summary>fsx-like random I/O on one file through two descriptors (closes with late releases, reopens, truncates).</summary>
    [TestCaseSource(nameof(FsxSeeds))]
    public Task Fsx_two_descriptors_on_one_file(int seed) =>
        CheckAsync("vfs fsx vs model", seed, Generator.Fsx(seed, 400), Setup(new VfsConfig()) with { Slots = 2 });
}
