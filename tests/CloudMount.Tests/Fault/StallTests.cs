using System.Diagnostics;
using System.Security.Cryptography;
using Amazon.Runtime;
using CloudMount.Core.Storage;
using CloudMount.Core.Storage.Azure;
using CloudMount.Core.Storage.Gcs;
using CloudMount.Core.Storage.Http;
using CloudMount.Core.Storage.S3;
using CloudMount.Core.Storage.Swift;
using CloudMount.Tests.Support;
using static CloudMount.Tests.Support.ProcessRunner;

namespace CloudMount.Tests.Fault;

/// <summary>
/// A stalled server (our proxy holds every connection silent): requests fail within <c>--timeout</c>, such failures
/// put the mount offline, <c>ls</c> and <c>cat</c> return (with an error) instead of hanging, and the mount works again
/// when the server answers. Store calls honour cancellation at once, whatever the timeouts.
/// </summary>
[NonParallelizable]
public sealed class StallTests
{
    private const int TimeoutSeconds = 3;

    private static byte[] Bytes(int n, int seed)
    {
        var b = new byte[n];
        new Random(seed).NextBytes(b);
        return b;
    }

    [TestCase("swift-s3")]
    [TestCase("swift")]
    [TestCase("azurite")]
    [TestCase("gcs-emulator")]
    public async Task With_the_server_stalled_ls_and_cat_return_an_error_and_the_mount_recovers(string name)
    {
        var (backend, proxy) = await ProxiedBackend.StartAsync(name, seed: 3);
        await using var _ = proxy;
        var data = Bytes(2_000_000, 4);
        await backend.Beside!.PutAsync("d/listed.txt", "listed\n"u8.ToArray());
        await backend.Beside.PutAsync("d/uncached.bin", data);
        await backend.Beside.PutAsync("other/x.txt", "x"u8.ToArray());
        string mnt = Paths.NewDir("stallmnt");
        await using var mount = await MountProcess.StartAsync(backend.Url, mnt,
            [.. backend.Args, "--timeout", $"{TimeoutSeconds}", "--idle-timeout", $"{TimeoutSeconds}", "--metadata-ttl", "0.5", "--negative-ttl", "0.5", "-v"], backend.Env);
        Assert.That(await BashOkAsync($"ls {Q(mnt)}/d"), Is.EqualTo("listed.txt\nuncached.bin\n"));

        await proxy.StallAsync(true);
        await Task.Delay(700); // past the metadata TTL
        // Hang guards, not speed claims: each command must return at all within five timeouts (a request and its
        // retry time out before the mount goes offline, and each attempt sends one request: see the test below).
        var guard = TimeSpan.FromSeconds(5 * TimeoutSeconds);
        var ls = await Guarded($"ls {Q(mnt)}/other", guard);
        var cat = await Guarded($"cat {Q(mnt)}/d/uncached.bin > /dev/null", guard);
        Assert.That(ls.TimedOut, Is.False, "ls returned; the mount logged:\n" + mount.Stderr);
        Assert.That(cat.TimedOut, Is.False, "cat returned");
        Assert.That(ls.ExitCode, Is.Not.Zero, "a directory never listed cannot be served");
        Assert.That(cat.ExitCode, Is.Not.Zero, "uncached bytes cannot be served");
        Assert.That(cat.Stderr, Does.Contain("Network is unreachable").Or.Contain("Input/output error"));
        Assert.That(mount.Stderr, Does.Contain($"within {TimeoutSeconds} s (--timeout)"), "the log says which timeout passed");
        Assert.That((await proxy.StatsAsync()).Stalled, Is.GreaterThan(0));

        await proxy.StallAsync(false);
        string? back = null;
        for (var sw = Stopwatch.StartNew(); back is null && sw.Elapsed < TimeSpan.FromSeconds(60);)
        {
            var r = await BashAsync($"md5sum < {Q(mnt)}/d/uncached.bin", timeout: TimeSpan.FromSeconds(30));
            if (r.ExitCode == 0) back = r.Stdout.Split(' ')[0];
            else await Task.Delay(500);
        }
        Assert.That(back, Is.EqualTo(Convert.ToHexStringLower(MD5.HashData(data))), "the mount works again without remounting");
        Assert.That(await BashOkAsync($"ls {Q(mnt)}/other"), Is.EqualTo("x.txt\n"));
    }

    /// <summary>Runs a command; a result that says it timed out when it did not end within <paramref name="guard"/> (a process in D state cannot even be killed).</summary>
    private static async Task<ProcessResult> Guarded(string command, TimeSpan guard)
    {
        var run = BashAsync(command, timeout: guard);
        if (await Task.WhenAny(run, Task.Delay(guard + TimeSpan.FromSeconds(5))) == run) return await run;
        return new ProcessResult(-1, "", "[killed after the guard: the process did not end]", guard);
    }

    /// <summary>The raw backends, through a stalled proxy, with timeouts far longer than the test.</summary>
    private static async Task<(IObjectStore Store, FaultProxy Proxy)> StalledStoreAsync(string name)
    {
        var slow = new HttpTimeouts { FirstByte = TimeSpan.FromMinutes(10), Idle = TimeSpan.FromMinutes(10) };
        switch (name)
        {
            case "s3rver":
            {
                var s = await TestServers.S3rver;
                string bucket = await s.NewBucketAsync("cancel");
                var p = await FaultProxy.StartAsync(s.Endpoint);
                return (new S3ObjectStore(bucket, new BasicAWSCredentials(s.AccessKey, s.SecretKey), new S3StoreOptions { Endpoint = p.Endpoint, Timeouts = slow }), p);
            }
            case "swift":
            {
                var s = await TestServers.Swift;
                string container = await s.NewBucketAsync("cancel");
                var p = await FaultProxy.StartAsync(s.Endpoint);
                return (new SwiftObjectStore(container, new SwiftV1Auth(new Uri(p.Endpoint, "/auth/v1.0"), "test:tester", "testing"), slow), p);
            }
            case "azurite":
            {
                var s = await TestServers.Azurite;
                string container = await s.NewContainerAsync("cancel");
                var p = await FaultProxy.StartAsync(s.Endpoint);
                var (client, _) = AzureConnector.Connect(container, p.Via(s.Endpoint), anonymous: false, n => s.Env.GetValueOrDefault(n), slow);
                return (new AzureBlobObjectStore(client), p);
            }
            case "nginx":
            {
                var s = await TestServers.Nginx;
                var p = await FaultProxy.StartAsync(s.Endpoint);
                return (new HttpObjectStore(p.Via(s.Url("html")), slow), p);
            }
            default:
            {
                var s = await TestServers.GcsServer(name == "gcs-emulator" ? "emulator" : "ours");
                var p = await FaultProxy.StartAsync(s.Endpoint);
                return (new GcsObjectStore(s.NewBucket("cancel"), p.Endpoint, _ => Task.FromResult<string?>(null), timeouts: slow), p);
            }
        }
    }

    /// <summary>
    /// Each call the retry layer makes sends one request, however it ends: the AWS SDK took a timeout on a reused
    /// connection for a stale connection and sent the request again, up to ten times, outside MaxErrorRetry (one
    /// attempt of a mount lasted four timeouts in CI, past the stall test's guard).
    /// </summary>
    [Test]
    public async Task A_timed_out_s3_request_is_sent_once_per_call()
    {
        var s = await TestServers.S3rver;
        string bucket = await s.NewBucketAsync("once");
        await using var proxy = await FaultProxy.StartAsync(s.Endpoint);
        var timeouts = new HttpTimeouts { FirstByte = TimeSpan.FromSeconds(1), Idle = TimeSpan.FromSeconds(1) };
        await using var store = new S3ObjectStore(bucket, new BasicAWSCredentials(s.AccessKey, s.SecretKey), new S3StoreOptions { Endpoint = proxy.Endpoint, Timeouts = timeouts });
        await store.ListAsync(new ListRequest(""), CancellationToken.None); // a pooled connection, as in a mount
        await proxy.StallAsync(true);
        var sent = new List<int>();
        for (int i = 0; i < 10; i++)
        {
            int before = (await proxy.StatsAsync()).Requests;
            Task call = i % 2 == 0 ? store.ListAsync(new ListRequest(""), CancellationToken.None) : store.HeadAsync($"k{i}", CancellationToken.None);
            Assert.CatchAsync<ConnectionFailedException>(async () => await call);
            sent.Add((await proxy.StatsAsync()).Requests - before);
        }
        Assert.That(sent, Is.All.EqualTo(1), "requests the proxy saw per call");
    }

    [TestCase("s3rver")]
    [TestCase("swift")]
    [TestCase("azurite")]
    [TestCase("nginx")]
    [TestCase("gcs-emulator")]
    [TestCase("gcs-ours")]
    public async Task A_call_to_a_stalled_server_ends_when_its_token_is_cancelled(string name)
    {
        var (store, proxy) = await StalledStoreAsync(name);
        await using var _ = proxy;
        await using var __ = store;
        await proxy.StallAsync(true);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var call = store.ListAsync(new ListRequest(""), cts.Token);
        // A hang guard: the call must end at all long before its ten-minute timeouts.
        var finished = await Task.WhenAny(call, Task.Delay(TimeSpan.FromSeconds(20)));
        Assert.That(finished, Is.SameAs(call), "the cancelled call returned");
        Assert.That(call.IsCanceled || call.Exception?.InnerException is OperationCanceledException, Is.True, $"cancelled, not {call.Exception?.InnerException?.GetType().Name}: {call.Exception?.InnerException?.Message}");
        Assert.That((await proxy.StatsAsync()).Stalled, Is.GreaterThan(0), "the request did reach the stalled proxy");
    }
}
