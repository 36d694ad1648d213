using CloudMount.Tests.Support;

namespace CloudMount.Tests.Model;

/// <summary>
/// The POSIX model must itself be right: the same random sequences run on the model and, through real syscalls, on
/// a local directory (ext4 here) must agree on every answer, errno and byte, and on the tree after every step, with
/// no divergence applied. A difference here is a bug of the model (or of the local file system), not of CloudMount.
/// </summary>
[TestFixture]
public sealed class ModelSelfTests
{
    private static RunSetup Setup(int slots = 3) => new(
        Reference: () => Task.FromResult<ITarget>(new PosixModel()),
        UnderTest: _ => Task.FromResult<ITarget>(new SyscallTarget("local", Paths.NewDir("model-local"))),
        Compare: new CompareOptions(Modes: true),
        ApplyDivergences: false,
        TolerateKnown: false,
        Slots: slots);

    [TestCase(1), TestCase(2), TestCase(3), TestCase(4), TestCase(5), TestCase(6), TestCase(7), TestCase(8), TestCase(9), TestCase(10)]
    public Task The_model_agrees_with_a_local_directory(int seed) =>
        VfsModelTests.CheckAsync("model vs local ext4", seed,
            Generator.Generate(seed, 400, new GenOptions(SyscallOnly: true)).Where(o => o is not LinkOp).ToList(), Setup());

    [TestCase(1), TestCase(2)]
    public Task The_fsx_model_agrees_with_a_local_file(int seed) =>
        VfsModelTests.CheckAsync("fsx model vs local ext4", seed, Generator.Fsx(seed, 400), Setup(slots: 2));

    /// <summary>The runner catches a difference and shrinks it to the few steps that show it (checked on a model with a planted bug).</summary>
    [Test]
    public async Task A_planted_difference_is_found_and_shrunk_to_its_steps()
    {
        var setup = new RunSetup(
            Reference: () => Task.FromResult<ITarget>(new PosixModel()),
            UnderTest: _ => Task.FromResult<ITarget>(new PlantedBug(new PosixModel())),
            Compare: new CompareOptions(), ApplyDivergences: false, TolerateKnown: false);
        var ops = Generator.Generate(7, 400);
        var result = await Runner.RunAsync(setup, ops);
        Assert.That(result.Failure, Is.Not.Null, "the planted bug (a write at offset 1000 or more is dropped) went unnoticed");
        var (_, shrunk, best) = await Runner.ShrinkAsync(setup, ops, result);
        TestContext.Out.WriteLine(Runner.Describe(best, shrunk));
        Assert.That(shrunk.Count, Is.LessThanOrEqualTo(3), "open, write (and maybe a read or close) are all it takes");
        Assert.That(shrunk.OfType<WriteOp>().Single().Offset, Is.GreaterThanOrEqualTo(1000));
    }

    /// <summary>The model with one deliberate bug: writes at offset 1000 or more report success and change nothing.</summary>
    private sealed class PlantedBug(PosixModel inner) : ITarget
    {
        public string Name => "model with a planted bug";
        public Task<Outcome> RunAsync(Op op) => op is WriteOp { Offset: >= 1000 } w ? Task.FromResult(new Outcome("ok", w.Length.ToString())) : inner.RunAsync(op);
        public Task<Snapshot> SnapshotAsync(bool contents) => inner.SnapshotAsync(contents);
        public Task<char?> KindAsync(string path, bool follow) => inner.KindAsync(path, follow);
        public Task CloseAllAsync() => inner.CloseAllAsync();
        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
