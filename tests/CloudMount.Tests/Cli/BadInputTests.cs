using CloudMount.Tests.Support;
using static CloudMount.Tests.Support.ProcessRunner;

namespace CloudMount.Tests.Cli;

/// <summary>
/// Every bad input gets one clear line on stderr naming the problem, a non-zero exit (the runner kills a
/// command that hangs for 60 s, which fails the test), and no mount left behind.
/// </summary>
public sealed class BadInputTests
{
    private string _mnt = "";

    [SetUp]
    public void SetUp() => _mnt = Paths.NewDir("badmnt");

    [TearDown]
    public void NoMountLeft() => Assert.That(Mounts.IsMounted(_mnt), Is.False, "a failed mount left a mount behind");

    private static void AssertOneLineError(ProcessResult r, int exitCode, string contains)
    {
        Assert.That(r.ExitCode, Is.EqualTo(exitCode), r.ToString());
        Assert.That(r.StderrLines, Has.Length.EqualTo(1), r.ToString());
        Assert.That(r.StderrLines[0], Does.StartWith("cloudmount: error: ").And.Contain(contains), r.ToString());
    }

    private static Task<ProcessResult> Run(IDictionary<string, string?>? env, params string[] args) =>
        CloudMountAsync(args, env, TimeSpan.FromSeconds(60));

    [Test]
    public async Task Unknown_scheme() =>
        AssertOneLineError(await Run(null, "mount", "gopher://bucket", _mnt), 2, "unknown scheme 'gopher://'");

    [Test]
    public async Task Malformed_url() =>
        AssertOneLineError(await Run(null, "mount", "s3:/bucket", _mnt), 2, "is not a store URL");

    [Test]
    public async Task Malformed_bucket_name() =>
        AssertOneLineError(await Run(null, "ls", "s3://Bad Bucket!"), 2, "not a valid bucket name");

    [Test]
    public async Task Missing_bucket()
    {
        var s = await TestServers.Swift;
        AssertOneLineError(await Run(s.Env, "mount", "s3://no-such-bucket-here", _mnt, "--endpoint", s.Endpoint.ToString()), 1, "bucket 'no-such-bucket-here' does not exist");
    }

    [Test]
    public async Task Wrong_secret_key()
    {
        var s = await TestServers.Swift;
        string bucket = await s.NewBucketAsync("creds");
        var env = s.Env;
        env["AWS_SECRET_ACCESS_KEY"] = "wrong-secret";
        AssertOneLineError(await Run(env, "mount", $"s3://{bucket}", _mnt, "--endpoint", s.Endpoint.ToString()), 1, "the secret key is wrong");
    }

    [Test]
    public async Task Unknown_access_key()
    {
        var s = await TestServers.Swift;
        string bucket = await s.NewBucketAsync("creds");
        var env = s.Env;
        env["AWS_ACCESS_KEY_ID"] = "nobody:nothing";
        var r = await Run(env, "ls", $"s3://{bucket}", "--endpoint", s.Endpoint.ToString());
        Assert.That(r.ExitCode, Is.EqualTo(1));
        Assert.That(r.StderrLines, Has.Length.EqualTo(1));
        Assert.That(r.StderrLines[0], Does.Contain("denied"));
    }

    [Test]
    public async Task No_credentials_anywhere()
    {
        var env = new Dictionary<string, string?>
        {
            ["AWS_ACCESS_KEY_ID"] = null,
            ["AWS_SECRET_ACCESS_KEY"] = null,
            ["AWS_PROFILE"] = null,
            ["HOME"] = Paths.NewDir("emptyhome"),
        };
        AssertOneLineError(await Run(env, "mount", "s3://some-bucket", _mnt, "--endpoint", "http://127.0.0.1:9"), 1, "no AWS credentials found");
    }

    [Test]
    public async Task Unreachable_endpoint()
    {
        int port = TestServers.FreePortRange(1);
        var env = new Dictionary<string, string?> { ["AWS_ACCESS_KEY_ID"] = "a", ["AWS_SECRET_ACCESS_KEY"] = "b" };
        AssertOneLineError(await Run(env, "mount", "s3://bucket", _mnt, "--endpoint", $"http://127.0.0.1:{port}"), 1, $"cannot reach http://127.0.0.1:{port}");
    }

    [Test]
    public async Task Endpoint_that_is_not_a_url() =>
        AssertOneLineError(await Run(null, "mount", "s3://bucket", _mnt, "--endpoint", "localhost-9000"), 2, "--endpoint 'localhost-9000' is not an http:// or https:// URL");

    [Test]
    public async Task Mount_point_missing() =>
        AssertOneLineError(await Run(null, "mount", "mem://x", _mnt + "/nope"), 1, "does not exist: create it with `mkdir -p");

    [Test]
    public async Task Mount_point_is_a_file()
    {
        string file = Path.Combine(_mnt, "plain.txt");
        File.WriteAllText(file, "x");
        AssertOneLineError(await Run(null, "mount", "mem://x", file), 1, "is not a directory");
    }

    [Test]
    public async Task Mount_point_already_mounted()
    {
        await using var first = await MountProcess.StartAsync("mem://first", _mnt);
        var r = await Run(null, "mount", "mem://second", _mnt);
        AssertOneLineError(r, 1, "is busy: something is already mounted there");
        Assert.That(await BashOkAsync($"ls {Q(_mnt)}"), Is.Empty, "the first mount still works");
    }

    [Test]
    public async Task Fusermount3_missing()
    {
        string empty = Path.Combine(_mnt, "..", "empty-" + Guid.NewGuid().ToString("n"));
        File.WriteAllText(empty, "");
        // A private mount namespace in which /usr/bin/fusermount3 (and /bin, its symlink) is an empty file.
        var r = await BashAsync($"unshare -m bash -c 'mount --bind {Q(empty)} /usr/bin/fusermount3 && exec dotnet {Q(Paths.CloudMountDll)} mount mem://x {Q(_mnt)}'", timeout: TimeSpan.FromSeconds(60));
        AssertOneLineError(r, 1, "fusermount3 not found");
    }

    [Test]
    public async Task Dev_fuse_missing()
    {
        // A private mount namespace whose /dev holds only null, zero, random, urandom and tty.
        string script = "set -e; d=$(mktemp -d); mount -t tmpfs none $d; for n in null zero random urandom tty; do touch $d/$n; mount --bind /dev/$n $d/$n; done; " +
                        $"mount --rbind $d /dev; exec dotnet {Q(Paths.CloudMountDll)} mount mem://x {Q(_mnt)}";
        var r = await BashAsync($"unshare -m bash -c {Q(script)}", timeout: TimeSpan.FromSeconds(60));
        AssertOneLineError(r, 1, "/dev/fuse does not exist");
    }

    [Test]
    public async Task Swift_wrong_key()
    {
        var s = await TestServers.Swift;
        string container = await s.NewBucketAsync("swiftcreds");
        var env = s.SwiftEnv;
        env["ST_KEY"] = "wrong";
        AssertOneLineError(await Run(env, "mount", $"swift://{container}", _mnt), 1, "refused test:tester: wrong user or key");
    }

    [Test]
    public async Task Swift_missing_container()
    {
        var s = await TestServers.Swift;
        AssertOneLineError(await Run(s.SwiftEnv, "mount", "swift://no-such-container", _mnt), 1, "'no-such-container' does not exist");
    }

    [Test]
    public async Task Swift_without_credentials() =>
        AssertOneLineError(await Run(new Dictionary<string, string?> { ["ST_AUTH"] = null, ["OS_AUTH_URL"] = null, ["OS_STORAGE_URL"] = null },
            "ls", "swift://data"), 2, "no Swift credentials");

    [Test]
    public async Task Swift_auth_url_that_answers_garbage()
    {
        var s = await TestServers.Swift;
        var env = s.SwiftEnv;
        env["ST_AUTH"] = new Uri(s.Endpoint, "/info").ToString();
        AssertOneLineError(await Run(env, "ls", "swift://data"), 1, "no X-Auth-Token or X-Storage-Url");
    }

    [Test]
    public async Task Azure_wrong_key()
    {
        var a = await TestServers.Azurite;
        string container = await a.NewContainerAsync("azcreds");
        var env = a.Env;
        env["AZURE_STORAGE_KEY"] = Convert.ToBase64String(new byte[64]);
        AssertOneLineError(await Run(env, "mount", $"az://{container}", _mnt, "--endpoint", a.Endpoint.ToString()), 1, "the account key or SAS is wrong");
    }

    [Test]
    public async Task Azure_missing_container()
    {
        var a = await TestServers.Azurite;
        AssertOneLineError(await Run(a.Env, "mount", "az://no-such-container", _mnt, "--endpoint", a.Endpoint.ToString()), 1, "'no-such-container' does not exist");
    }

    [Test]
    public async Task Azure_without_an_account() =>
        AssertOneLineError(await Run(new Dictionary<string, string?> { ["AZURE_STORAGE_ACCOUNT"] = null, ["AZURE_STORAGE_CONNECTION_STRING"] = null },
            "ls", "az://data"), 2, "no Azure account");

    [Test]
    public async Task Missing_object_for_cat()
    {
        var s = await TestServers.Swift;
        string bucket = await s.NewBucketAsync("cat");
        AssertOneLineError(await Run(s.Env, "cat", $"s3://{bucket}/nothing/here.txt", "--endpoint", s.Endpoint.ToString()), 1, $"no such object: s3://{bucket}/nothing/here.txt");
    }
}
