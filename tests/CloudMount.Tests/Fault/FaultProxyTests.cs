using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using CloudMount.Tests.Support;
using static CloudMount.Tests.Support.ProcessRunner;

namespace CloudMount.Tests.Fault;

/// <summary>
/// Every backend on its real server, with our fault proxy in between answering a share of requests 503 or 500,
/// resetting connections in the middle of request and answer bodies and delaying answers: a mixed set of files
/// (1 KiB to 64 MiB, the large ones multipart) is written through a mount and read back through a second mount
/// without caches. Asserted: no read returns a wrong byte; every file whose close() succeeded is stored exactly;
/// every file whose close() failed has its bytes in the staging folder, with a record naming its key.
/// </summary>
[NonParallelizable]
public sealed partial class FaultProxyTests
{
    private static readonly int[] Sizes = [1024, 200 * 1024, 3_000_000, 20 * 1024 * 1024 + 7, 40 * 1024 * 1024 + 3, 64 * 1024 * 1024];

    [GeneratedRegex(@"retries (\d+)")]
    private static partial Regex RetriesLine();

    private static TestCaseData[] Backends => ProxiedBackend.Names.Select(n => new TestCaseData(n).SetName($"Mixed_files_through_faults_read_back_exactly_or_fail_with_their_data_kept({n})")).ToArray();

    [TestCaseSource(nameof(Backends))]
    public async Task Mixed_files_through_faults(string name)
    {
        var (backend, proxy) = await ProxiedBackend.StartAsync(name, seed: name.GetHashCode() & 0xFFFF);
        await using var _ = proxy;
        string local = Paths.NewDir("faultsrc");
        var files = Sizes.Select((n, i) => (Name: $"f{i}-{n}.bin", Data: Bytes(n, i + 1))).ToList();
        foreach (var f in files) await File.WriteAllBytesAsync(Path.Combine(local, f.Name), f.Data);
        await proxy.ConfigureAsync(FaultMix.Standard);

        var closed = new Dictionary<string, string>();
        long writeRetries = 0;
        string cache = Paths.NewDir("faultcache");
        if (backend.Root is not null)
        {
            foreach (var f in files) await File.WriteAllBytesAsync(Path.Combine(backend.Root, f.Name), f.Data);
            foreach (var f in files) closed[f.Name] = "ok";
        }
        else
        {
            string mnt = Paths.NewDir("faultw");
            await using var writer = await MountProcess.StartAsync(backend.Url, mnt, [.. backend.Args, "--cache-dir", cache], backend.Env);
            string script = $$"""
                python3 - <<'EOF'
                import errno, json, os, shutil
                out = {}
                for name in sorted(os.listdir({{Q(local)}})):
                    try:
                        with open(os.path.join({{Q(local)}}, name), "rb") as s, open(os.path.join({{Q(mnt)}}, name), "wb") as d:
                            shutil.copyfileobj(s, d, 1 << 20)
                        out[name] = "ok"
                    except OSError as e:
                        out[name] = errno.errorcode[e.errno]
                print(json.dumps(out))
                EOF
                """;
            var r = await BashAsync(script, timeout: TimeSpan.FromMinutes(10));
            Assert.That(r.ExitCode, Is.Zero, r.ToString());
            closed = JsonSerializer.Deserialize<Dictionary<string, string>>(r.Stdout.Trim().Split('\n')[^1])!;
            string log = await writer.StopAsync();
            writeRetries = long.Parse(RetriesLine().Matches(log).Last().Groups[1].Value);
        }

        // Read back through a mount of its own, without caches, so every byte comes through the proxy.
        string mnt2 = Paths.NewDir("faultr");
        long readRetries;
        var reads = new Dictionary<string, string>();
        await using (var reader = await MountProcess.StartAsync(backend.Url, mnt2,
            [.. backend.Args, "--cache-dir", Paths.NewDir("faultcache2"), "--cache-size", "0", "--memory-cache-size", "0"], backend.Env))
        {
            foreach (var f in files.Where(f => closed[f.Name] == "ok"))
            {
                var r = await BashAsync($"md5sum < {Q(Path.Combine(mnt2, f.Name))}", timeout: TimeSpan.FromMinutes(5));
                reads[f.Name] = r.ExitCode != 0 ? "failed: " + r.Stderr.Trim() : r.Stdout.Split(' ')[0] == Md5(f.Data) ? "exact" : "WRONG BYTES";
            }
            string log = await reader.StopAsync();
            readRetries = long.Parse(RetriesLine().Matches(log).Last().Groups[1].Value);
        }
        var stats = await proxy.StatsAsync();
        TestContext.Out.WriteLine($"{name}: {stats}; retries: {writeRetries} writing, {readRetries} reading; closes: {string.Join(", ", closed.Select(kv => $"{kv.Key} {kv.Value}"))}; reads: {string.Join(", ", reads.Select(kv => $"{kv.Key} {kv.Value}"))}");

        Assert.That(reads.Values, Has.None.EqualTo("WRONG BYTES"), "no read returns wrong bytes");
        Assert.That(stats.Faults, Is.GreaterThan(0), "the proxy did spoil requests");
        foreach (var f in files)
        {
            if (closed[f.Name] == "ok")
            {
                if (backend.Beside is { } beside)
                {
                    var stored = await beside.GetAsync(f.Name);
                    Assert.That(stored is null ? null : Md5(stored), Is.EqualTo(Md5(f.Data)), $"{f.Name}: a successful close() stored exactly its bytes");
                }
            }
            else
            {
                var staged = Directory.GetFiles(Path.Combine(cache, "staging"), "*.data", SearchOption.AllDirectories)
                    .Where(p => File.ReadAllBytes(p).AsSpan().SequenceEqual(f.Data)).ToList();
                // The unmount retries what is still dirty: a file whose close() failed may be stored by then, whole.
                if (staged.Count == 0 && backend.Beside is { } b && await b.GetAsync(f.Name) is { } retried && Md5(retried) == Md5(f.Data)) continue;
                Assert.That(staged, Is.Not.Empty, $"{f.Name}: close() gave {closed[f.Name]} and its data is in staging");
                Assert.That(File.ReadAllText(Path.ChangeExtension(staged[0], ".json")), Does.Contain(f.Name), "the record names the key");
            }
        }
        Assert.That(reads.Values.Count(v => v == "exact"), Is.GreaterThan(0), "reads do get through");
    }

    private static byte[] Bytes(int n, int seed)
    {
        var b = new byte[n];
        new Random(seed).NextBytes(b);
        return b;
    }

    private static string Md5(byte[] data) => Convert.ToHexStringLower(MD5.HashData(data));
}
