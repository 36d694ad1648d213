using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using CloudMount.Tests.Support;

namespace CloudMount.Tests.Fuse;

/// <summary>
/// pjdfstest (the POSIX conformance suite, from ../shared/tools/pjdfstest) over an s3:// mount of Swift's s3api with
/// --allow-other, as root, run group by group with prove. It reports per-group and total pass counts (also written
/// to artifacts/test-results/pjdfstest-summary.txt, which test.sh prints) and does not fail on the count: issue 13
/// sets the target (7,620 of 8,470). It fails only when the mount crashes, a group hangs past its bound, or the
/// mount is left dead.
/// </summary>
[TestFixture]
public sealed partial class PjdfstestJob
{
    /// <summary>The 12 groups TEST-SERVERS.md counts (8,470 subtests).</summary>
    private static readonly string[] Groups = ["open", "mkdir", "unlink", "rename", "truncate", "rmdir", "chmod", "chown", "ftruncate", "symlink", "link", "utimensat"];

    private static readonly TimeSpan GroupBound = TimeSpan.FromMinutes(10);

    private sealed record GroupResult(string Group, int Planned, int Passed, int Failed, TimeSpan Took, string? Trouble);

    [GeneratedRegex(@"^1\.\.(\d+)", RegexOptions.Multiline)]
    private static partial Regex Plan();

    [GeneratedRegex(@"^ok \d+", RegexOptions.Multiline)]
    private static partial Regex Ok();

    [GeneratedRegex(@"^not ok \d+", RegexOptions.Multiline)]
    private static partial Regex NotOk();

    [Test]
    public async Task Pjdfstest_over_an_s3_mount_of_swift_reports_its_totals()
    {
        string source = Path.GetFullPath(Path.Combine(Paths.Repo, "..", "shared", "tools", "pjdfstest"));
        if (!File.Exists(Path.Combine(source, "configure.ac")))
        {
            Assert.Ignore($"pjdfstest skipped: its source is not at {source} (../shared/tools/pjdfstest; see ../shared/tools/README.md)");
        }
        var clock = Stopwatch.StartNew();
        string build = await BuildAsync(source);
        TestContext.Out.WriteLine($"pjdfstest built in {clock.Elapsed.TotalSeconds:0} s");

        var server = await TestServers.Swift;
        string bucket = await server.NewBucketAsync("pjdfstest");
        // Outside the test run's scratch folder, whose 0700 parents the suite's other users (uid 65534) could not pass.
        string mnt = Path.Combine("/tmp", "cloudmount-pjd-" + Guid.NewGuid().ToString("n")[..8]);
        Directory.CreateDirectory(mnt);
        File.SetUnixFileMode(mnt, (UnixFileMode)0x1ED);
        string[] args = ["--endpoint", server.Endpoint.ToString(), "--allow-other", "--cache-dir", Paths.NewDir("pjd-cache")];
        MountProcess? mount = null;
        var results = new List<GroupResult>();
        var deaths = new List<string>();
        try
        {
            mount = await MountProcess.StartAsync($"s3://{bucket}", mnt, args, server.Env);
            int jobs = int.TryParse(Environment.GetEnvironmentVariable("CLOUDMOUNT_PJDFSTEST_JOBS"), out int j) ? j : 3;
            using var slots = new SemaphoreSlim(jobs);
            var gate = new SemaphoreSlim(1, 1); // one restart at a time
            var tasks = Groups.Select(async g =>
            {
                await slots.WaitAsync();
                try
                {
                    var r = await RunGroupAsync(build, mnt, g);
                    await gate.WaitAsync();
                    try
                    {
                        if (!await AliveAsync(mount!, mnt))
                        {
                            deaths.Add($"the mount was dead after group {g}: {Tail(mount!.Stderr)}");
                            r = r with { Trouble = (r.Trouble is null ? "" : r.Trouble + "; ") + "mount died" };
                            try { await mount.DisposeAsync(); } catch (AssertionException) { }
                            mount = await MountProcess.StartAsync($"s3://{bucket}", mnt, args, server.Env);
                        }
                    }
                    finally
                    {
                        gate.Release();
                    }
                    lock (results) results.Add(r);
                }
                finally
                {
                    slots.Release();
                }
            });
            await Task.WhenAll(tasks);
        }
        finally
        {
            if (mount is not null)
            {
                try { await mount.DisposeAsync(); } catch (AssertionException e) { deaths.Add("unmount: " + e.Message); }
            }
            if (!Mounts.IsMounted(mnt)) Directory.Delete(mnt, recursive: true);
        }
        string summary = Summary(results, clock.Elapsed);
        TestContext.Out.WriteLine(summary);
        Directory.CreateDirectory(Path.Combine(Paths.Repo, "artifacts", "test-results"));
        await File.WriteAllTextAsync(Path.Combine(Paths.Repo, "artifacts", "test-results", "pjdfstest-summary.txt"), summary);
        var trouble = results.Where(r => r.Trouble is not null).Select(r => $"{r.Group}: {r.Trouble}").Concat(deaths).ToList();
        Assert.That(trouble, Is.Empty, "pjdfstest crashed, hung or killed the mount:\n" + string.Join("\n", trouble) + "\n" + summary);
    }

    private static string Tail(string log) => string.Join(" | ", log.Split('\n').Where(l => l.Contains("Unhandled") || l.Contains("fail") || l.Contains("rror")).TakeLast(3));

    private static async Task<bool> AliveAsync(MountProcess m, string mnt)
    {
        if (m.HasExited || !Mounts.IsMounted(mnt)) return false;
        string probe = Path.Combine(mnt, ".alive-" + Guid.NewGuid().ToString("n")[..8]);
        var stat = Task.Run(() => Model.Libc.Stat(probe, follow: false, out _));
        return await Task.WhenAny(stat, Task.Delay(TimeSpan.FromSeconds(20))) == stat && await stat == 2;
    }

    /// <summary>Copies the source and builds the pjdfstest binary (autoreconf, configure, make: ../shared/tools/README.md).</summary>
    private static async Task<string> BuildAsync(string source)
    {
        string dir = Path.Combine(Paths.NewDir("pjdfstest-build"), "pjdfstest");
        await ProcessRunner.BashOkAsync($"cp -r {ProcessRunner.Q(source)} {ProcessRunner.Q(dir)} && chmod -R u+w {ProcessRunner.Q(dir)}");
        var r = await ProcessRunner.BashAsync("autoreconf -ifs && ./configure && make pjdfstest", timeout: TimeSpan.FromMinutes(5), cwd: dir);
        if (r.ExitCode != 0) Assert.Fail($"pjdfstest did not build (scripts/install-test-deps.sh installs autoconf automake libtool gcc make): {r}");
        return dir;
    }

    /// <summary>Runs one group with prove from a folder of its own inside the mount; counts ok / not ok per subtest.</summary>
    private static async Task<GroupResult> RunGroupAsync(string build, string mnt, string group)
    {
        var clock = Stopwatch.StartNew();
        string cwd = Path.Combine(mnt, "g-" + group);
        try
        {
            Directory.CreateDirectory(cwd);
        }
        catch (IOException e)
        {
            return new GroupResult(group, 0, 0, 0, clock.Elapsed, $"could not make its folder: {e.Message}");
        }
        var psi = new ProcessStartInfo("prove") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = cwd };
        foreach (var a in new[] { "-r", "-v", Path.Combine(build, "tests", group) }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        string? trouble = null;
        using (var cts = new CancellationTokenSource(GroupBound))
        {
            try
            {
                await p.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                trouble = $"hung: prove did not finish within {GroupBound.TotalMinutes:0} min";
                // A process blocked in the file system may ignore SIGKILL until its request ends: cut the connection first.
                if (Model.Libc.Stat(mnt, follow: true, out var st) == 0) await File.WriteAllTextAsync($"/sys/fs/fuse/connections/{st.DevMinor}/abort", "1");
                p.Kill(entireProcessTree: true);
                using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                try { await p.WaitForExitAsync(grace.Token); } catch (OperationCanceledException) { trouble += "; prove could not be killed"; }
            }
        }
        string output = p.HasExited ? await stdout : "";
        int planned = Plan().Matches(output).Sum(m => int.Parse(m.Groups[1].Value));
        int ok = Ok().Matches(output).Count;
        int notOk = NotOk().Matches(output).Count;
        _ = stderr;
        return new GroupResult(group, planned, ok, notOk, clock.Elapsed, trouble);
    }

    private static string Summary(List<GroupResult> results, TimeSpan took)
    {
        var sb = new StringBuilder();
        sb.AppendLine("pjdfstest over s3:// (Swift s3api), --allow-other, as root:");
        sb.AppendLine($"  {"group",-10} {"passed",7} {"planned",8} {"failed",7} {"missing",8} {"time",6}");
        foreach (var r in results.OrderBy(r => Array.IndexOf(Groups, r.Group)))
        {
            sb.AppendLine($"  {r.Group,-10} {r.Passed,7} {r.Planned,8} {r.Failed,7} {Math.Max(0, r.Planned - r.Passed - r.Failed),8} {r.Took.TotalSeconds,5:0}s{(r.Trouble is null ? "" : "  " + r.Trouble)}");
        }
        int passed = results.Sum(r => r.Passed), planned = results.Sum(r => r.Planned);
        sb.AppendLine($"pjdfstest total: {passed} of {planned} subtests passed ({(planned == 0 ? 0 : 100.0 * passed / planned):0.0} %); issue 13's target is 7,620 of 8,470; {took.TotalMinutes:0.0} min");
        return sb.ToString();
    }
}
