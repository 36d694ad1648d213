using System.Text;
using CloudMount.Tests.Support;
using static CloudMount.Tests.Support.ProcessRunner;

namespace CloudMount.Tests.Fuse;

/// <summary>
/// Object metadata through a real mount on Swift's S3 API: user metadata as <c>user.*</c> extended attributes
/// (getfattr, setfattr, python), read-only attributes for what the service decides, the s3fs and rclone fields
/// for mtime, mode, uid and gid, and symlinks stored as s3fs stores them. Each outcome is checked with another
/// S3 client beside the mount.
/// </summary>
[NonParallelizable]
public sealed class MetadataTests
{
    private static readonly byte[] Body = Encoding.ASCII.GetBytes("id,value\n1,0.5\n2,0.25\n");

    private static async Task<(S3Server Server, string Bucket)> BucketAsync(string hint)
    {
        var s = await TestServers.Swift;
        return (s, await s.NewBucketAsync(hint));
    }

    private static Task<MountProcess> MountAsync(S3Server s, string bucket, string mnt, params string[] extra) =>
        MountProcess.StartAsync($"s3://{bucket}", mnt, ["--endpoint", s.Endpoint.ToString(), "--cache-dir", Paths.NewDir("mdcache"), .. extra], s.Env);

    [Test]
    public async Task User_metadata_round_trips_through_setfattr_and_getfattr_and_other_clients_see_it()
    {
        var (s, bucket) = await BucketAsync("xattr");
        await s.PutAsync(bucket, "data.csv", Body, null, new Dictionary<string, string> { ["project"] = "alpha" });
        string mnt = Paths.NewDir("xattrmnt");
        string m = Q(mnt);
        await using (var mount = await MountAsync(s, bucket, mnt))
        {
            // Metadata another client wrote.
            string dump = await BashOkAsync($"cd {m} && getfattr -d data.csv");
            Assert.That(dump, Does.Contain("user.project=\"alpha\""));
            Assert.That((await BashOkAsync($"getfattr --only-values -n user.project {m}/data.csv")), Is.EqualTo("alpha"));

            // Set, change and remove through the mount; another client sees each on the object, bytes untouched.
            await BashOkAsync($"setfattr -n user.owner -v bob {m}/data.csv && setfattr -n user.project -v beta {m}/data.csv");
            var head = await s.HeadAsync(bucket, "data.csv");
            Assert.That(head.Metadata, Does.ContainKey("owner").WithValue("bob"));
            Assert.That(head.Metadata, Does.ContainKey("project").WithValue("beta"));
            Assert.That(await s.GetAsync(bucket, "data.csv"), Is.EqualTo(Body), "a metadata change keeps the bytes");
            await BashOkAsync($"setfattr -x user.project {m}/data.csv");
            head = await s.HeadAsync(bucket, "data.csv");
            Assert.That(head.Metadata.Keys, Does.Not.Contain("project"));
            Assert.That(head.Metadata, Does.ContainKey("owner").WithValue("bob"));

            // Python's os.*xattr see the same.
            string py = await BashOkAsync($$"""python3 -c "import os; p='{{mnt}}/data.csv'; os.setxattr(p, 'user.note', b'x y'); print(sorted(a for a in os.listxattr(p) if a.startswith('user.') and not a.startswith('user.cloudmount.')), os.getxattr(p, 'user.note'))" """);
            Assert.That(py.Trim(), Is.EqualTo("['user.note', 'user.owner'] b'x y'"));
            Assert.That((await s.HeadAsync(bucket, "data.csv")).Metadata, Does.ContainKey("note").WithValue("x y"));

            // What the service decides is readable, not writable; a missing attribute is ENODATA.
            using var c = s.NewClient();
            var meta = await c.GetObjectMetadataAsync(bucket, "data.csv");
            Assert.That(await BashOkAsync($"getfattr --only-values -n user.cloudmount.etag {m}/data.csv"), Is.EqualTo(meta.ETag.Trim('"')));
            Assert.That(await BashOkAsync($"getfattr --only-values -n user.cloudmount.content-type {m}/data.csv"), Is.EqualTo(meta.Headers.ContentType));
            var denied = await BashAsync($"setfattr -n user.cloudmount.etag -v x {m}/data.csv");
            Assert.That((denied.ExitCode, denied.Stderr), Is.Not.EqualTo((0, "")));
            Assert.That(denied.Stderr, Does.Contain("Operation not permitted"));
            var missing = await BashAsync($"getfattr -n user.nothing {m}/data.csv");
            Assert.That(missing.ExitCode, Is.Not.Zero);
            Assert.That(missing.Stderr, Does.Contain("No such attribute"));

            // A file written through the mount takes its attributes up with it, even while it is being written.
            await BashOkAsync($"exec 3>{m}/new.txt; echo hello >&3; setfattr -n user.origin -v mount {m}/new.txt; exec 3>&-");
            Assert.That((await s.HeadAsync(bucket, "new.txt")).Metadata, Does.ContainKey("origin").WithValue("mount"));
            Assert.That(await s.GetAsync(bucket, "new.txt"), Is.EqualTo("hello\n"u8.ToArray()));
            // Rewriting the file keeps its metadata.
            await BashOkAsync($"echo again > {m}/new.txt");
            Assert.That((await s.HeadAsync(bucket, "new.txt")).Metadata, Does.ContainKey("origin").WithValue("mount"));
            await mount.StopAsync();
        }
    }

    [Test]
    public async Task Mtime_mode_uid_and_gid_follow_the_s3fs_and_rclone_fields_and_are_kept_with_posix_attrs()
    {
        var (s, bucket) = await BucketAsync("posix");
        await s.PutAsync(bucket, "s3fs.sh", Body, null, new Dictionary<string, string>
        {
            ["mtime"] = "1600000000", ["mode"] = "33261", ["uid"] = "1234", ["gid"] = "4321",
        });
        await s.PutAsync(bucket, "rclone.csv", Body, null, new Dictionary<string, string> { ["mtime"] = "1500000000.250000000" });
        await s.PutAsync(bucket, "plain.csv", Body);
        string mnt = Paths.NewDir("posixmnt");
        string m = Q(mnt);
        await using (var mount = await MountAsync(s, bucket, mnt, "--exact-attrs", "--posix-attrs"))
        {
            Assert.That((await BashOkAsync($"stat -c '%Y %a %u %g' {m}/s3fs.sh")).Trim(), Is.EqualTo("1600000000 755 1234 4321"));
            Assert.That((await BashOkAsync($"stat -c '%.2Y' {m}/rclone.csv")).Trim(), Is.EqualTo("1500000000.25"));
            Assert.That((await BashOkAsync($"ls -l {m}/plain.csv")), Does.StartWith("-rw-r--r--"), "no fields: the mount's defaults");

            // touch -m, chmod and chown are stored in those same fields; the bytes stay.
            await BashOkAsync($"touch -m -d @1400000000 {m}/plain.csv && chmod 640 {m}/plain.csv && chown 1000:1001 {m}/plain.csv");
            var head = await s.HeadAsync(bucket, "plain.csv");
            Assert.That(head.Metadata, Does.ContainKey("mtime").WithValue("1400000000"));
            Assert.That(head.Metadata, Does.ContainKey("mode").WithValue("33184"), "0100640 in s3fs's decimal");
            Assert.That(head.Metadata, Does.ContainKey("uid").WithValue("1000"));
            Assert.That(head.Metadata, Does.ContainKey("gid").WithValue("1001"));
            Assert.That(await s.GetAsync(bucket, "plain.csv"), Is.EqualTo(Body));

            // A new file carries its mode and mtime from the start.
            await BashOkAsync($"echo new > {m}/made.txt && chmod 600 {m}/made.txt");
            var made = await s.HeadAsync(bucket, "made.txt");
            Assert.That(made.Metadata, Does.ContainKey("mode").WithValue("33152"), "0100600");
            Assert.That(made.Metadata.Keys, Does.Contain("mtime"));
            await mount.StopAsync();
        }
        // Another mount reads them back.
        string again = Paths.NewDir("posixmnt2");
        await using (var mount = await MountAsync(s, bucket, again, "--exact-attrs"))
        {
            Assert.That((await BashOkAsync($"stat -c '%Y %a %u %g' {Q(again)}/plain.csv")).Trim(), Is.EqualTo("1400000000 640 1000 1001"));
            Assert.That((await BashOkAsync($"stat -c '%a' {Q(again)}/made.txt")).Trim(), Is.EqualTo("600"));
            await mount.StopAsync();
        }
    }

    [Test]
    public async Task Without_posix_attrs_chmod_is_not_stored_and_ls_l_makes_no_head()
    {
        var (s, bucket) = await BucketAsync("noposix");
        await s.PutAsync(bucket, "a.csv", Body, null, new Dictionary<string, string> { ["mode"] = "33261" });
        string mnt = Paths.NewDir("noposixmnt");
        await using var mount = await MountAsync(s, bucket, mnt);
        await BashOkAsync($"ls -l {Q(mnt)} > /dev/null");
        string log = await mount.StopAsync();
        Assert.That(log, Does.Contain("HEAD 0,"), "ls -l of a default mount answers from the listing");
        Assert.That((await s.HeadAsync(bucket, "a.csv")).Metadata, Does.ContainKey("mode").WithValue("33261"));
    }

    [Test]
    public async Task Symlinks_are_small_objects_whose_mode_says_symlink_as_s3fs_stores_them()
    {
        var (s, bucket) = await BucketAsync("symlink");
        await s.PutAsync(bucket, "target.csv", Body);
        // One that s3fs wrote: the target as the body, mode 0120777.
        await s.PutAsync(bucket, "by-s3fs", Encoding.ASCII.GetBytes("target.csv"), null, new Dictionary<string, string> { ["mode"] = "41471" });
        string mnt = Paths.NewDir("symlinkmnt");
        string m = Q(mnt);
        await using (var mount = await MountAsync(s, bucket, mnt, "--exact-attrs"))
        {
            await BashOkAsync($"cd {m} && ln -s target.csv link && mkdir sub && ln -s ../target.csv sub/up");
            Assert.That((await BashOkAsync($"readlink {m}/link")).Trim(), Is.EqualTo("target.csv"));
            Assert.That(await BashOkAsync($"cat {m}/link"), Is.EqualTo(Encoding.ASCII.GetString(Body)));
            Assert.That(await BashOkAsync($"cat {m}/sub/up"), Is.EqualTo(Encoding.ASCII.GetString(Body)));
            Assert.That((await BashOkAsync($"readlink {m}/by-s3fs")).Trim(), Is.EqualTo("target.csv"));
            Assert.That(await BashOkAsync($"stat -c %F {m}/by-s3fs"), Does.StartWith("symbolic link"));
            await mount.StopAsync();
        }
        Assert.That(await s.GetAsync(bucket, "link"), Is.EqualTo("target.csv"u8.ToArray()));
        Assert.That((await s.HeadAsync(bucket, "link")).Metadata, Does.ContainKey("mode").WithValue("41471"));
        Assert.That(await s.GetAsync(bucket, "sub/up"), Is.EqualTo("../target.csv"u8.ToArray()));

        // After a remount the links are links again (the mode is in each object's metadata, so --exact-attrs).
        string again = Paths.NewDir("symlinkmnt2");
        await using (var mount = await MountAsync(s, bucket, again, "--exact-attrs"))
        {
            Assert.That(await BashOkAsync($"ls -l {Q(again)}/link"), Does.StartWith("l").And.Contain("link -> target.csv"));
            Assert.That(await BashOkAsync($"find {Q(again)} -type l | sort"), Is.EqualTo($"{again}/by-s3fs\n{again}/link\n{again}/sub/up\n"));
            await BashOkAsync($"rm {Q(again)}/link");
            await mount.StopAsync();
        }
        Assert.That(await s.KeysAsync(bucket), Does.Not.Contain("link"));
    }

    [Test]
    public async Task With_no_xattrs_the_mount_serves_none_and_writes_still_work()
    {
        var (s, bucket) = await BucketAsync("noxattr");
        await s.PutAsync(bucket, "a.csv", Body, null, new Dictionary<string, string> { ["project"] = "alpha" });
        string mnt = Paths.NewDir("noxattrmnt");
        await using var mount = await MountAsync(s, bucket, mnt, "--no-xattrs");
        var r = await BashAsync($"getfattr -n user.project {Q(mnt)}/a.csv");
        Assert.That(r.ExitCode, Is.Not.Zero);
        Assert.That(r.Stderr, Does.Contain("Operation not supported"));
        await BashOkAsync($"dd if=/dev/zero of={Q(mnt)}/w.bin bs=4k count=256 status=none");
        Assert.That(await s.GetAsync(bucket, "w.bin"), Has.Length.EqualTo(4096 * 256));
        await mount.StopAsync();
    }
}
