using System.Security.Cryptography;
using System.Text;
using CloudMount.Tests.Fuse;
using CloudMount.Tests.Support;
using static CloudMount.Tests.Support.ProcessRunner;

namespace CloudMount.Tests.Fault;

/// <summary>
/// The bad answers of issue 11, each from a real server (through our proxy where the server itself would not give it):
/// a 503 from Swift's auth at start-up, a PUT answered with another MD5 than was sent, a key with a control character.
/// (A server that stores another size: <see cref="Contract.GcsTests"/>; a read whose bytes differ from the stated hash: the same.)
/// </summary>
[NonParallelizable]
public sealed class BadAnswerTests
{
    [Test]
    public async Task A_503_from_swift_auth_at_start_up_is_retried_and_a_refused_key_fails_at_once()
    {
        var (backend, proxy) = await ProxiedBackend.StartAsync("swift", seed: 1);
        await using var _ = proxy;
        await backend.Beside!.PutAsync("a.txt", "alpha"u8.ToArray());
        await proxy.Fail503Async("/auth/v1.0", 2);
        string mnt = Paths.NewDir("auth503");
        await using (var mount = await MountProcess.StartAsync(backend.Url, mnt, [], backend.Env))
        {
            Assert.That(await BashOkAsync($"cat {Q(mnt)}/a.txt"), Is.EqualTo("alpha"));
            Assert.That((await proxy.TargetedAsync()).Failed503, Is.EqualTo(2), "auth answered 503 twice before the mount started");
        }
        await proxy.Fail503Async("/auth/v1.0", 1);
        var ls = await CloudMountAsync(["ls", backend.Url + "/"], backend.Env, TimeSpan.FromSeconds(60));
        Assert.That(ls.ExitCode, Is.Zero, ls.ToString());
        Assert.That(ls.Stdout, Does.Contain("a.txt"));

        var env = new Dictionary<string, string?>(backend.Env) { ["ST_KEY"] = "wrong" };
        var refused = await CloudMountAsync(["mount", backend.Url, Paths.NewDir("auth401")], env, TimeSpan.FromSeconds(60));
        Assert.That((refused.ExitCode, refused.StderrLines.Length), Is.EqualTo((1, 1)), refused.ToString());
        Assert.That(refused.StderrLines[0], Does.Contain("refused test:tester"));
    }

    [Test]
    public async Task A_put_answered_with_another_md5_fails_the_close_and_cloudmount_cp_and_the_data_stays_in_staging()
    {
        var (backend, proxy) = await ProxiedBackend.StartAsync("s3rver", seed: 1);
        await using var _ = proxy;
        string src = Path.Combine(Paths.NewDir("badmd5src"), "f.bin");
        var data = new byte[100_000];
        new Random(3).NextBytes(data);
        await File.WriteAllBytesAsync(src, data);
        string md5 = Convert.ToHexStringLower(MD5.HashData(data));
        string mnt = Paths.NewDir("badmd5"), cache = Paths.NewDir("badmd5cache");
        await using var mount = await MountProcess.StartAsync(backend.Url, mnt, [.. backend.Args, "--retries", "2", "--cache-dir", cache], backend.Env);
        await proxy.WrongEtagOnPutAsync(true);
        var cp = await BashAsync($"cp {Q(src)} {Q(mnt)}/f.bin");
        var cli = await CloudMountAsync(["cp", src, backend.Url + "/g.bin", .. backend.Args, "--retries", "2"], backend.Env, TimeSpan.FromSeconds(60));
        await proxy.WrongEtagOnPutAsync(false);
        Assert.That(cp.ExitCode, Is.Not.Zero, "close() fails");
        Assert.That(cp.Stderr, Does.Contain("Input/output error"));
        Assert.That(mount.Stderr, Does.Contain("f.bin").And.Contain($"stored MD5 0123456789abcdef0123456789abcdef, we sent {md5}"), "the log names the key and both values");
        var staged = Directory.GetFiles(Path.Combine(cache, "staging"), "*.data", SearchOption.AllDirectories);
        Assert.That(staged.Any(f => File.ReadAllBytes(f).AsSpan().SequenceEqual(data)), "the data stays in staging");
        Assert.That(cli.ExitCode, Is.EqualTo(1), cli.ToString());
        Assert.That(cli.StderrLines[^1], Does.StartWith("cloudmount: error:").And.Contain("g.bin").And.Contain($"we sent {md5}"), "after a retry, one line says why");
        Assert.That((await proxy.TargetedAsync()).WrongEtag, Is.GreaterThanOrEqualTo(4), "every attempt was answered wrongly");
    }

    [TestCase("swift-s3")]
    [TestCase("swift")]
    public async Task A_key_with_a_control_character_is_listed_and_read(string name)
    {
        var server = await TestServers.Swift;
        string bucket = await server.NewBucketAsync("ctl");
        string odd = "ctl/a\u0001b.txt";
        await server.PutAsync(bucket, odd, "odd"u8.ToArray());
        await server.PutAsync(bucket, "ctl/plain.txt", "plain"u8.ToArray());
        var (url, args, env) = name == "swift" ? ($"swift://{bucket}", Array.Empty<string>(), server.SwiftEnv) : ($"s3://{bucket}", ["--endpoint", server.Endpoint.ToString()], server.Env);
        string mnt = Paths.NewDir("ctlmnt");
        await using var mount = await MountProcess.StartAsync(url, mnt, args, env);
        string listed = await BashOkAsync($"ls {Q(mnt)}/ctl | od -c | head -2");
        Assert.That(listed, Does.Contain(@"a 001   b   .   t   x   t"), "the name with \\x01 is listed");
        Assert.That(await BashOkAsync($"ls {Q(mnt)}/ctl | tail -1"), Is.EqualTo("plain.txt\n"));
        Assert.That(await BashOkAsync($"cat {Q(mnt)}/ctl/a$'\\001'b.txt"), Is.EqualTo("odd"));
        var ls = await CloudMountAsync(["ls", url + "/ctl/", .. args], env, TimeSpan.FromSeconds(60));
        Assert.That(ls.ExitCode, Is.Zero, ls.ToString());
        Assert.That(ls.Stdout, Does.Contain("a\u0001b.txt").And.Contain("plain.txt"));
    }
}
