namespace CloudMount.Tests.Model;

[TestFixture, Explicit]
public sealed class ExploreTmp
{
    [Test]
    public async Task Explore()
    {
        var env = Environment.GetEnvironmentVariable("EXPLORE") ?? "1-10;;default";
        var parts = env.Split(';');
        var range = parts[0].Split('-').Select(int.Parse).ToArray();
        var avoid = parts[1].Split(',', StringSplitOptions.RemoveEmptyEntries).ToHashSet();
        var config = new VfsConfig(parts[2] == "posix");
        int steps = parts.Length > 3 ? int.Parse(parts[3]) : 300;
        var seen = new Dictionary<string, string>();
        for (int seed = range[0]; seed <= range[1]; seed++)
        {
            var ops = Generator.Generate(seed, steps, new GenOptions(Avoid: avoid));
            var setup = VfsModelTests.Setup(config);
            var r = await Runner.RunAsync(setup, ops);
            if (r.Failure is null) { TestContext.Out.WriteLine($"seed {seed}: ok"); continue; }
            string sig = r.Failure.Signature;
            TestContext.Out.WriteLine($"seed {seed}: {sig}");
            if (seen.ContainsKey(sig)) continue;
            var (kept, shrunk, best) = await Runner.ShrinkAsync(setup, ops, r, 300);
            seen[sig] = Runner.Report("explore", seed, ops, kept, shrunk, best);
            TestContext.Out.WriteLine(seen[sig]);
        }
    }
}

[TestFixture, Explicit]
public sealed class ExploreStats
{
    [Test]
    public async Task Stats()
    {
        var stats = new Dictionary<string, (int ok, int err)>();
        for (int seed = 1; seed <= 5; seed++)
        {
            var ops = Generator.Generate(seed, 300, new GenOptions(Avoid: new HashSet<string> { "symlinks", "huge-sizes" }));
            var r = await Runner.RunAsync(VfsModelTests.Setup(new VfsConfig()), ops);
            foreach (var (op, exp, act, _) in r.Log)
            {
                var k = op.GetType().Name + (exp.Errno is "ok" or "skip" ? "" : ":" + exp.Errno);
                var v = stats.GetValueOrDefault(k);
                stats[k] = exp.IsOk ? (v.ok + 1, v.err) : (v.ok, v.err + 1);
            }
        }
        foreach (var (k, v) in stats.OrderBy(x => x.Key)) TestContext.Out.WriteLine($"{k}: ok {v.ok} other {v.err}");
    }
}

[TestFixture, Explicit]
public sealed class ExploreSelf
{
    [Test]
    public async Task SelfMany()
    {
        var setup = new RunSetup(
            Reference: () => Task.FromResult<ITarget>(new PosixModel()),
            UnderTest: _ => Task.FromResult<ITarget>(new SyscallTarget("local", CloudMount.Tests.Support.Paths.NewDir("model-local"))),
            Compare: new CompareOptions(Modes: true), ApplyDivergences: false, TolerateKnown: false);
        var seen = new HashSet<string>();
        for (int seed = 11; seed <= 110; seed++)
        {
            var ops = Generator.Generate(seed, 400, new GenOptions(SyscallOnly: true)).Where(o => o is not LinkOp).ToList();
            var r = await Runner.RunAsync(setup, ops);
            if (r.Failure is null || !seen.Add(r.Failure.Signature)) continue;
            var (kept, shrunk, best) = await Runner.ShrinkAsync(setup, ops, r);
            TestContext.Out.WriteLine(Runner.Report("self", seed, ops, kept, shrunk, best));
        }
    }
}
