using CloudMount.Tests.Support;
using static CloudMount.Tests.Support.ProcessRunner;

namespace CloudMount.Tests.Fuse;

/// <summary>
/// Issue 13: the same bucket through s3fs and rclone and through our mount, on Swift's S3 API. A tree s3fs wrote
/// (files, directories, symlinks, modes, owners, times) and one `rclone copy` wrote (mtimes) show their attributes
/// through our mount with --exact-attrs; a tree written through our mount reads back in s3fs with its modes,
/// owners, times and symlinks. Skipped where s3fs or rclone is not installed (scripts/install-test-deps.sh
/// installs both).
/// </summary>
[NonParallelizable]
public sealed class PeerInteropTests
{
    private static string Stat(string dir) =>
        $"cd {Q(dir)} && find . -mindepth 1 \\( -type l -printf '%p %y %l %U %G\\n' \\) -o \\( -type d -printf '%p %y %m %U %G %T@\\n' \\) -o -printf '%p %y %m %U %G %s %T@\\n' | sort";

    /// <summary>Makes the tree in <paramref name="dir"/> one command at a time, as a user would (each file closed first).</summary>
    private static async Task MakeTreeAsync(string dir) =>
        await BashOkAsync($"""
            set -e; cd {Q(dir)}
            mkdir -p top/sub; printf 'a,b\n1,2\n' > top/data.csv; printf '#!/bin/sh\n' > top/run.sh
            ln -s data.csv top/link; ln -s ../top/run.sh top/sub/up
            chmod 640 top/data.csv; chmod 750 top/run.sh; chmod 700 top/sub
            chown 1234:4321 top/data.csv; chown -h 1234:4321 top/link; chown 2000:2000 top/sub
            touch -d @1600000000 top/data.csv top/run.sh; touch -d @1500000000 top/sub top
            """);

    private static async Task<string> TreeAsync()
    {
        string src = Paths.NewDir("peersrc");
        await MakeTreeAsync(src);
        return src;
    }

    private static async Task<string> S3fsMountAsync(S3Server s, string bucket)
    {
        string mnt = Paths.NewDir("s3fsmnt");
        await BashOkAsync($"AWSACCESSKEYID={Q(s.AccessKey)} AWSSECRETACCESSKEY={Q(s.SecretKey)} s3fs {Q(bucket)} {Q(mnt)} -o url={Q(s.Endpoint.ToString().TrimEnd('/'))} " +
            $"-o use_path_request_style -o endpoint=us-east-1 -o stat_cache_expire=1 -o enable_noobj_cache");
        for (int i = 0; i < 100 && !Mounts.IsMounted(mnt); i++) await Task.Delay(100);
        Assert.That(Mounts.IsMounted(mnt), "s3fs mounted");
        return mnt;
    }

    private static async Task UnmountAsync(string mnt)
    {
        var r = await BashAsync($"fusermount3 -u {Q(mnt)}");
        if (r.ExitCode != 0) await BashAsync($"fusermount3 -u -z {Q(mnt)}");
    }

    [Test]
    public async Task A_tree_written_by_s3fs_shows_its_attributes_through_our_mount_and_ours_through_s3fs()
    {
        if ((await BashAsync("command -v s3fs")).ExitCode != 0) Assert.Ignore("s3fs is not installed");
        var s = await TestServers.Swift;
        string src = await TreeAsync();
        string want = await BashOkAsync(Stat(src));

        // s3fs writes, we read (a fresh cache: everything we show comes from the store).
        string b1 = await s.NewBucketAsync("bys3fs");
        string s3fs = await S3fsMountAsync(s, b1);
        try
        {
            await MakeTreeAsync(s3fs);
            await Task.Delay(1500); // past s3fs's stat cache
            Assert.That(await BashOkAsync(Stat(s3fs)), Is.EqualTo(want), "s3fs itself keeps the tree (sanity)");
        }
        finally
        {
            await UnmountAsync(s3fs);
        }
        string ours = Paths.NewDir("peerours");
        await using (var m = await MountProcess.StartAsync($"s3://{b1}", ours, ["--endpoint", s.Endpoint.ToString(), "--cache-dir", Paths.NewDir("peercache"), "--exact-attrs"], s.Env))
        {
            Assert.That(await BashOkAsync(Stat(ours)), Is.EqualTo(want), "s3fs's tree through our mount");
            await m.StopAsync();
        }

        // We write, s3fs reads.
        string b2 = await s.NewBucketAsync("byours");
        await using (var m = await MountProcess.StartAsync($"s3://{b2}", ours, ["--endpoint", s.Endpoint.ToString(), "--cache-dir", Paths.NewDir("peercache")], s.Env))
        {
            await BashOkAsync($"cp -a {Q(src)}/top {Q(ours)}/");
            await m.StopAsync();
        }
        s3fs = await S3fsMountAsync(s, b2);
        try
        {
            Assert.That(await BashOkAsync(Stat(s3fs)), Is.EqualTo(want), "our tree through s3fs");
            Assert.That(await BashOkAsync($"cat {Q(s3fs)}/top/link"), Is.EqualTo("a,b\n1,2\n"));
        }
        finally
        {
            await UnmountAsync(s3fs);
        }
    }

    [Test]
    public async Task Rclone_copy_mtimes_show_through_our_mount()
    {
        if ((await BashAsync("command -v rclone")).ExitCode != 0) Assert.Ignore("rclone is not installed");
        var s = await TestServers.Swift;
        string src = Paths.NewDir("rclonesrc");
        await BashOkAsync($"cd {Q(src)} && mkdir -p d && echo one > a.txt && echo two > d/b.txt && touch -d '2010-05-06 07:08:09.123456789' a.txt && touch -d @1234567890.5 d/b.txt");
        string bucket = await s.NewBucketAsync("byrclone");
        string env = $"env -u AWS_CA_BUNDLE RCLONE_CONFIG_P_TYPE=s3 RCLONE_CONFIG_P_PROVIDER=Other RCLONE_CONFIG_P_ENDPOINT={Q(s.Endpoint.ToString())} " +
            $"RCLONE_CONFIG_P_ACCESS_KEY_ID={Q(s.AccessKey)} RCLONE_CONFIG_P_SECRET_ACCESS_KEY={Q(s.SecretKey)} RCLONE_CONFIG_P_FORCE_PATH_STYLE=true RCLONE_CONFIG_P_REGION=us-east-1";
        await BashOkAsync($"{env} rclone copy {Q(src)} P:{bucket}");
        string want = await BashOkAsync($"cd {Q(src)} && find . -type f -printf '%p %s %T@\\n' | sort");
        string ours = Paths.NewDir("rcloneours");
        await using var m = await MountProcess.StartAsync($"s3://{bucket}", ours, ["--endpoint", s.Endpoint.ToString(), "--cache-dir", Paths.NewDir("peercache"), "--exact-attrs"], s.Env);
        Assert.That(await BashOkAsync($"cd {Q(ours)} && find . -type f -printf '%p %s %T@\\n' | sort"), Is.EqualTo(want));
        // And rclone reads the mtime we store (its own check: nothing to copy again).
        await BashOkAsync($"touch -d @1300000000.25 {Q(ours)}/a.txt && cp -p {Q(ours)}/a.txt {Q(src)}/a.txt");
        await m.StopAsync();
        string check = await BashOkAsync($"{env} rclone check --size-only=false {Q(src)} P:{bucket} 2>&1; {env} rclone lsl P:{bucket}/a.txt");
        Assert.That(check, Does.Contain("2011-03-13 07:06:40.250000000"), check);
    }
}
