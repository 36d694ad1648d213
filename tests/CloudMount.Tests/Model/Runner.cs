using System.Diagnostics;
using System.Text;

namespace CloudMount.Tests.Model;

/// <summary>Where a run first went wrong.</summary>
/// <param name="Step">Index into the op list (the closing phase counts on past the end).</param>
/// <param name="Op">The op of that step.</param>
/// <param name="What">"result" (errno or bytes), "state" (the tree after the step), "hang", or "error" (the target broke).</param>
/// <param name="Expected">What the reference said.</param>
/// <param name="Actual">What the file system under test said.</param>
public sealed record Failure(int Step, Op Op, string What, string Expected, string Actual)
{
    /// <summary>What a shrunk sequence must still show to count as the same defect.</summary>
    public string Signature => What switch
    {
        "result" => $"result:{Op.GetType().Name}:{Errno(Expected)}->{Errno(Actual)}",
        "state" => $"state:{Actual.Split(' ', '\n')[0]}",
        _ => $"{What}:{Op.GetType().Name}",
    };

    private static string Errno(string s) => s.Split(' ')[0];
}

/// <summary>The outcome of running one sequence.</summary>
public sealed class RunResult
{
    public List<(Op Op, Outcome Expected, Outcome Actual, string? Note)> Log { get; } = [];
    public Failure? Failure { get; set; }

    /// <summary>Set by shrinking when a replay of the failing prefix did not fail again (a timing-dependent defect).</summary>
    public bool NotReproduced { get; set; }
}

/// <summary>How a comparison run is set up: the two sides, what is compared, and the closing checks.</summary>
/// <param name="Reference">Makes the reference (the POSIX model, or a local directory).</param>
/// <param name="UnderTest">Makes the file system under test, given the reference (so the model can share its clock).</param>
/// <param name="Compare">Extra fields compared (mtimes, modes).</param>
/// <param name="EveryStep">Compare the whole tree after every step (otherwise only at the end).</param>
/// <param name="ApplyDivergences">Apply <see cref="Divergences"/> (off when the model is checked against Linux).</param>
/// <param name="RemountAtEnd">Close everything, compare contents, remount, compare again (the stored state).</param>
/// <param name="Slots">Descriptor slots the sequences use (all are closed at the end).</param>
/// <param name="StoreKeepsMetadata">False for stores without object metadata (file://): see <see cref="Divergences.NoMetadataStore"/>.</param>
/// <param name="TolerateKnown">Let answers that match a known defect's tolerance (KnownDefects.Tolerates) pass, noted in the log.</param>
public sealed record RunSetup(
    Func<Task<ITarget>> Reference,
    Func<ITarget, Task<ITarget>> UnderTest,
    CompareOptions Compare,
    bool EveryStep = true,
    bool ApplyDivergences = true,
    bool RemountAtEnd = true,
    int Slots = 3,
    bool TolerateKnown = true,
    bool StoreKeepsMetadata = true);

/// <summary>Runs sequences on two targets side by side, compares every step, and shrinks failures.</summary>
public static class Runner
{
    public static async Task<RunResult> RunAsync(RunSetup setup, IReadOnlyList<Op> ops)
    {
        var result = new RunResult();
        await using var reference = await setup.Reference();
        await using var sut = await setup.UnderTest(reference);
        try
        {
            for (int i = 0; i < ops.Count; i++)
            {
                if (await StepAsync(setup, reference, sut, ops[i], i, result, compareTree: setup.EveryStep)) return result;
            }
            // Closing phase: every descriptor closed (close() results compared), contents compared, then the stored state.
            var closing = new List<Op>();
            for (int s = 0; s < setup.Slots; s++) closing.Add(new CloseOp(s));
            closing.Add(new CatOp("__contents__"));
            if (setup.RemountAtEnd) closing.AddRange([new RemountOp(), new CatOp("__contents__")]);
            int step = ops.Count;
            foreach (var op in closing)
            {
                if (op is CatOp { Path: "__contents__" })
                {
                    if (await CompareTreesAsync(setup, reference, sut, op, step, result, contents: true)) return result;
                }
                else if (await StepAsync(setup, reference, sut, op, step, result, compareTree: false))
                {
                    return result;
                }
                step++;
            }
            if (sut is IHasInvariants inv && (await inv.CheckInvariantsAsync()) is { Count: > 0 } broken)
            {
                result.Failure = new Failure(step, new RemountOp(), "state", "no leftovers", "invariant\n" + string.Join("; ", broken));
            }
        }
        catch (TargetHangException e)
        {
            result.Failure = new Failure(result.Log.Count, result.Log.Count < ops.Count ? ops[result.Log.Count] : new RemountOp(), "hang", "an answer", e.Message);
        }
        catch (Exception e) when (e is not AssertionException)
        {
            result.Failure = new Failure(result.Log.Count, result.Log.Count < ops.Count ? ops[result.Log.Count] : new RemountOp(), "error", "no exception", $"{e.GetType().Name}: {e.Message}");
        }
        return result;
    }

    /// <summary>Runs one op on both sides and compares; true when the run failed.</summary>
    private static async Task<bool> StepAsync(RunSetup setup, ITarget reference, ITarget sut, Op op, int i, RunResult result, bool compareTree)
    {
        if (setup.ApplyDivergences)
        {
            if (await Divergences.NotOnReferenceAsync(op, reference.KindAsync, setup.StoreKeepsMetadata) is { } skip)
            {
                var got = Divergences.Normalize(op, await sut.RunAsync(op));
                var wanted = new Outcome(string.Join("|", skip.Accepted));
                result.Log.Add((op, wanted, got, skip.Why.Id));
                if (!skip.Accepted.Contains(got.Errno) || (got.IsOk && got.Value.Length > 0))
                {
                    result.Failure = new Failure(i, op, "result", wanted.ToString(), got.ToString());
                    return true;
                }
                return false;
            }
        }
        bool unlinked = op is WriteOp or ReadOp or FtruncateOp or FsyncOp or CloseOp && reference is IKnowsDescriptors k && k.IsUnlinked(op switch
        {
            WriteOp w => w.Slot, ReadOp r => r.Slot, FtruncateOp f => f.Slot, FsyncOp s => s.Slot, CloseOp c => c.Slot, _ => -1,
        });
        var expected = await reference.RunAsync(op);
        var actual = await sut.RunAsync(op);
        if (setup.ApplyDivergences) actual = Divergences.Normalize(op, actual);
        bool same = expected.Errno == actual.Errno && (!expected.IsOk || expected.Value == actual.Value);
        string? note = null;
        if (!same && setup.ApplyDivergences && Divergences.Accepts(op, expected, actual) is { } d)
        {
            same = true;
            note = d.Id;
        }
        if (!same && setup.TolerateKnown && KnownDefects.Tolerates(op, expected, actual, unlinked) is { } known)
        {
            same = true;
            note = "known defect: " + known;
        }
        result.Log.Add((op, expected, actual, note));
        if (!same)
        {
            result.Failure = new Failure(i, op, "result", expected.ToString(), actual.ToString());
            return true;
        }
        return compareTree && await CompareTreesAsync(setup, reference, sut, op, i, result, contents: false);
    }

    private static async Task<bool> CompareTreesAsync(RunSetup setup, ITarget reference, ITarget sut, Op op, int i, RunResult result, bool contents)
    {
        var a = await reference.SnapshotAsync(contents);
        var b = await sut.SnapshotAsync(contents);
        var options = setup.Compare;
        var diff = a.DiffAgainst(b, (_, x, y) => Divergences.EntryEqual(options, x, y));
        if (diff.Count == 0) return false;
        result.Failure = new Failure(i, op, "state", (contents ? "contents:\n" : "tree:\n") + a, $"{diff[0].Category}\n" + string.Join("\n", diff.Select(d => d.Line)));
        return true;
    }

    // ------------------------------------------------------------------ shrinking

    /// <summary>
    /// The shortest sub-sequence (in kept order) that still fails with the same signature: cut after the failing
    /// step, remove chunks of halving size, then simplify single ops. Bounded by <paramref name="budget"/> runs
    /// and <paramref name="time"/>.
    /// </summary>
    public static async Task<(List<int> Kept, List<Op> Ops, RunResult Result)> ShrinkAsync(RunSetup setup, IReadOnlyList<Op> ops, RunResult failed, int budget = 400, TimeSpan? time = null, int tries = 1)
    {
        string signature = failed.Failure!.Signature;
        var clock = Stopwatch.StartNew();
        var limit = time ?? TimeSpan.FromSeconds(120);
        int runs = 0;
        var kept = Enumerable.Range(0, Math.Min(ops.Count, failed.Failure.Step + 1)).ToList();
        var current = kept.Select(i => ops[i]).ToList();
        var best = failed;
        async Task<RunResult?> Try(List<Op> candidate)
        {
            if (runs >= budget || clock.Elapsed > limit) return null;
            for (int t = 0; t < tries; t++)
            {
                runs++;
                var r = await RunAsync(setup, candidate);
                if (r.Failure?.Signature == signature) return r;
            }
            return null;
        }
        if (await Try(current) is { } cut) best = cut;
        else
        {
            // The failure did not come back on replay: it depends on timing (a race). Report the run as it was.
            failed.NotReproduced = true;
            return (Enumerable.Range(0, ops.Count).ToList(), [.. ops], failed);
        }
        for (int chunk = Math.Max(1, kept.Count / 2); chunk >= 1; chunk /= 2)
        {
            bool progress = true;
            while (progress)
            {
                progress = false;
                for (int start = 0; start < kept.Count; start += chunk)
                {
                    int n = Math.Min(chunk, kept.Count - start);
                    var k2 = kept.Take(start).Concat(kept.Skip(start + n)).ToList();
                    var c2 = current.Take(start).Concat(current.Skip(start + n)).ToList();
                    if (c2.Count == 0) continue;
                    if (await Try(c2) is { } r)
                    {
                        (kept, current, best, progress) = (k2, c2, r, true);
                        start -= chunk;
                    }
                }
            }
            if (chunk == 1) break;
        }
        for (int i = 0; i < current.Count; i++)
        {
            foreach (var simpler in Simplify(current[i]))
            {
                var c2 = current.ToList();
                c2[i] = simpler;
                if (await Try(c2) is { } r)
                {
                    current = c2;
                    best = r;
                    break;
                }
            }
        }
        return (kept, current, best);
    }

    private static IEnumerable<Op> Simplify(Op op)
    {
        switch (op)
        {
            case CloseOp { LateRelease: true } c: yield return c with { LateRelease = false }; break;
            case WriteOp w:
                if (w.Length > 1) yield return w with { Length = Math.Max(1, w.Length / 16) };
                if (w.Length > 1) yield return w with { Length = 1 };
                if (w.Offset > 0) yield return w with { Offset = 0 };
                break;
            case OpenOp o:
                if (o.Excl) yield return o with { Excl = false };
                if (o.Trunc) yield return o with { Trunc = false };
                if (o.Append) yield return o with { Append = false };
                if (o.Access == Access.RW) yield return o with { Access = Access.W };
                break;
            case ReadOp r when r.Length > 16: yield return r with { Length = 16 }; break;
        }
    }

    // ------------------------------------------------------------------ printing

    /// <summary>The steps of a run as numbered lines with what each side answered.</summary>
    public static string Describe(RunResult r, IReadOnlyList<Op> ops)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < r.Log.Count; i++)
        {
            var (op, exp, act, note) = r.Log[i];
            string mark = i == r.Failure?.Step && r.Failure.What == "result" ? "  <-- differs" : "";
            string both = exp.ToString() == act.ToString() ? act.ToString() : $"expected {exp}, got {act}";
            sb.AppendLine($"  {i + 1,3}. {op,-44} {Trim(both)}{(note is null ? "" : $"  [{note}]")}{mark}");
        }
        if (r.Failure is { } f)
        {
            if (f.What != "result") sb.AppendLine($"  after step {Math.Min(f.Step, ops.Count - 1) + 1} ({f.Op}): {f.What} differs:\n    {f.Actual.Replace("\n", "\n    ")}");
            if (f.What == "state") sb.AppendLine($"  expected {f.Expected.Replace("\n", "\n    ")}");
        }
        return sb.ToString();
    }

    private static string Trim(string s) => s.Length > 160 ? s[..160] + "..." : s;

    /// <summary>A full report of a shrunk failure: the steps, and how to replay them.</summary>
    public static string Report(string title, int seed, IReadOnlyList<Op> original, List<int> kept, List<Op> shrunk, RunResult result) =>
        $"""
        {title}: seed {seed}, {result.Failure!.What} differs ({result.Failure.Signature})
        {(result.NotReproduced ? "NOT REPRODUCED on replay of the same steps: the defect depends on timing (a race); the run as it happened:" : $"shortest sequence found: {shrunk.Count} of {original.Count} steps")}
        {Describe(result, shrunk)}
        replay:  CLOUDMOUNT_MODEL_REPLAY='{Steps.Format(shrunk)}'
        seed + steps:  seed={seed} steps={string.Join(",", kept)}
        """;
}

/// <summary>A target that can check invariants of its own at the end of a run (no staging leftovers, ...).</summary>
public interface IHasInvariants
{
    Task<List<string>> CheckInvariantsAsync();
}
