using CloudMount.Cli;
using CloudMount.Cli.Service;
using CloudMount.Tests.Support;

namespace CloudMount.Tests.Packaging;

/// <summary>How mount.cloudmount reads mount(8)'s arguments and maps fstab options to cloudmount mount flags.</summary>
public sealed class MountHelperOptionTests
{
    private static MountHelper.Invocation Call(string options) =>
        new("s3://bucket/prefix", "/data", options, Sloppy: false, Fake: false, Verbose: false);

    private static List<string> CommandLine(string options, out FstabOptions mapped) =>
        MountHelper.CommandLine(Call(options), Program.BuildRoot, out mapped);

    [Test]
    public void The_issue_line_maps_to_mount_flags_and_drops_what_concerns_mount_and_systemd()
    {
        var args = CommandLine("_netdev,nofail,allow_other,endpoint=http://127.0.0.1:9000,cache_dir=/var/cache/cm,uid=1000,ro,x-systemd.automount,noatime,defaults", out var mapped);
        Assert.That(args, Is.EqualTo(new[]
        {
            "mount", "s3://bucket/prefix", "/data", "--allow-other", "--endpoint", "http://127.0.0.1:9000", "--cache-dir", "/var/cache/cm", "--uid", "1000", "--read-only",
        }));
        Assert.That(mapped.Environment, Is.Empty);
        Assert.That(mapped.LogFile, Is.Null);
    }

    [Test]
    public void Every_mount_option_is_reachable_with_underscores()
    {
        var args = CommandLine("metadata_ttl=5,negative_ttl=0.5,file_mode=0600,dir_mode=0700,gid=7,cache_size=1GiB,memory_cache_size=0,read_ahead=8MiB,read_part_size=1MiB,no_sign_request,exact_attrs,posix_attrs,no_xattrs,raw,retries=3,region=eu-west-1,verbose,ro", out _);
        Assert.That(string.Join(' ', args[3..]), Is.EqualTo(
            "--metadata-ttl 5 --negative-ttl 0.5 --file-mode 0600 --dir-mode 0700 --gid 7 --cache-size 1GiB --memory-cache-size 0 --read-ahead 8MiB " +
            "--read-part-size 1MiB --no-sign-request --exact-attrs --posix-attrs --no-xattrs --raw --retries 3 --region eu-west-1 --verbose --read-only"));
    }

    [TestCase("bogus", "unknown option 'bogus'")]
    [TestCase("allow_other=yes", "option 'allow_other' takes no value")]
    [TestCase("endpoint", "option 'endpoint' needs a value")]
    [TestCase("endpoint=", "option 'endpoint' needs a value")]
    [TestCase("daemon", "always runs in the background")]
    [TestCase("uid=abc", "Cannot parse argument 'abc' for option 'uid'")]
    [TestCase("env_file=/nonexistent/cm.env", "option 'env_file': cannot read /nonexistent/cm.env")]
    [TestCase("aws_credentials=/nonexistent/credentials", "option 'aws_credentials': /nonexistent/credentials does not exist")]
    public void A_bad_option_is_one_usage_error_naming_it(string options, string message)
    {
        var e = Assert.Throws<UsageException>(() => CommandLine(options, out _))!;
        Assert.That(e.Message, Does.Contain(message));
        Assert.That(e.Message, Does.Not.Contain("\n"));
    }

    [Test]
    public void Sloppy_mode_skips_unknown_options()
    {
        var args = MountHelper.CommandLine(Call("bogus=1,ro") with { Sloppy = true }, Program.BuildRoot, out var mapped);
        Assert.That(args[3..], Is.EqualTo(new[] { "--read-only" }));
        Assert.That(mapped.Skipped, Is.EqualTo(new[] { "bogus=1" }));
    }

    [Test]
    public void Credentials_come_from_the_files_the_options_name()
    {
        string dir = Paths.NewDir("helpercreds");
        string env = Path.Combine(dir, "data.env");
        File.WriteAllText(env, "# credentials\nAWS_ACCESS_KEY_ID=AKID\nexport AWS_SECRET_ACCESS_KEY=\"se=cret\"\n\nST_USER='lab:ann'\n");
        string aws = Path.Combine(dir, "credentials");
        File.WriteAllText(aws, "[default]\n");
        string secret = Path.Combine(dir, "bucket-aws-secret.json");
        File.WriteAllText(secret, """{"AWS_ACCESS_KEY_ID": "FROMJSON", "AWS_SECRET_ACCESS_KEY": "jsonsecret", "AWS_DEFAULT_REGION": "us-west-2"}""");
        string google = Path.Combine(dir, "google-secret.json");
        File.WriteAllText(google, "{}");

        CommandLine($"env_file={env},aws_credentials={aws},aws_profile=lab,log_file=/var/log/x.log", out var fromEnv);
        Assert.That(fromEnv.Environment, Is.EquivalentTo(new Dictionary<string, string?>
        {
            ["AWS_ACCESS_KEY_ID"] = "AKID", ["AWS_SECRET_ACCESS_KEY"] = "se=cret", ["ST_USER"] = "lab:ann",
            ["AWS_SHARED_CREDENTIALS_FILE"] = aws, ["AWS_PROFILE"] = "lab",
        }));
        Assert.That(fromEnv.LogFile, Is.EqualTo("/var/log/x.log"));

        CommandLine($"cloudfiles_secret={secret}", out var fromJson);
        Assert.That(fromJson.Environment, Is.EquivalentTo(new Dictionary<string, string?>
        {
            ["AWS_ACCESS_KEY_ID"] = "FROMJSON", ["AWS_SECRET_ACCESS_KEY"] = "jsonsecret", ["AWS_DEFAULT_REGION"] = "us-west-2",
        }));
        CommandLine($"cloudfiles_secret={google}", out var fromGoogle);
        Assert.That(fromGoogle.Environment, Is.EquivalentTo(new Dictionary<string, string?> { ["GOOGLE_APPLICATION_CREDENTIALS"] = google }));

        File.WriteAllText(env, "not a variable line\n");
        var e = Assert.Throws<UsageException>(() => CommandLine($"env_file={env}", out _))!;
        Assert.That(e.Message, Does.Contain("line 1 is not KEY=VALUE"));
    }

    [Test]
    public void Reads_the_arguments_mount_passes()
    {
        var call = MountHelper.ParseArguments(["s3://b", "/data", "-n", "-s", "-o", "rw,ro", "-v", "-t", "cloudmount"]);
        Assert.That(call, Is.EqualTo(new MountHelper.Invocation("s3://b", "/data", "rw,ro", Sloppy: true, Fake: false, Verbose: true)));
        Assert.That(MountHelper.ParseArguments(["mem://x", "/mnt/x", "-f", "-oallow_other"]),
            Is.EqualTo(new MountHelper.Invocation("mem://x", "/mnt/x", "allow_other", Sloppy: false, Fake: true, Verbose: false)));
        Assert.Throws<UsageException>(() => MountHelper.ParseArguments(["s3://b"]));
        Assert.Throws<UsageException>(() => MountHelper.ParseArguments(["s3://b", "/data", "-x"]));
        Assert.Throws<UsageException>(() => MountHelper.ParseArguments(["s3://b", "/data", "-N", "1234"]));
        Assert.That(FstabOptions.SplitOptions("a,comment=\"x,y\",b"), Is.EqualTo(new[] { "a", "comment=x,y", "b" }));
    }

    [Test]
    public async Task A_fake_mount_prints_the_command_it_would_run_and_mounts_nothing()
    {
        string mnt = Paths.NewDir("fakemnt");
        var r = await ProcessRunner.CloudMountAsync(["mount-helper", "mem://x", mnt, "-f", "-v", "-o", "_netdev,ro,uid=5"]);
        Assert.That(r.ExitCode, Is.Zero, r.ToString());
        Assert.That(r.StderrLines, Is.EqualTo(new[] { $"mount.cloudmount: cloudmount mount mem://x {mnt} --read-only --uid 5" }));
        Assert.That(Mounts.IsMounted(mnt), Is.False);
    }
}
