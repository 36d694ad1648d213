using CloudMount.Tests.Support;
using static CloudMount.Tests.Support.ProcessRunner;

namespace CloudMount.Tests.Fuse;

/// <summary>
/// Issue 13: the tools that rely on POSIX attributes (rsync -a, tar, cp -a, git), on a default s3:// mount of
/// Swift's S3 API (no option asks for attributes), checked as their users check them: a second rsync copies
/// nothing, a tree copied in and out compares equal in type, mode, mtime (to the nanosecond) and link target,
/// also after a remount with an empty cache; and s3fs, mounted on the same bucket, sees what we stored and we see
/// what it stored, without opening a file.
/// </summary>
[NonParallelizable]
public sealed class PosixToolsTests
{
    private static async Task<(S3Server Server, string Bucket)> BucketAsync(string hint)
    {
        var s = await TestServers.Swift;
        return (s, await s.NewBucketAsync(hint));
    }

    private static Task<MountProcess> MountAsync(S3Server s, string bucket, string mnt, params string[] extra) =>
        MountAsync(s, bucket, mnt, Paths.NewDir("pxcache"), extra);

    private static Task<MountProcess> MountAsync(S3Server s, string bucket, string mnt, string cache, params string[] extra) =>
        MountProcess.StartAsync($"s3://{bucket}", mnt, ["--endpoint", s.Endpoint.ToString(), "--cache-dir", cache, .. extra], s.Env);

    /// <summary>A source tree with what rsync and tar meet in practice: nested folders, modes, exact times, symlinks.</summary>
    private static async Task<string> SourceTreeAsync()
    {
        string src = Paths.NewDir("pxsrc");
        string q = Q(src);
        await BashOkAsync($"""
            set -e; cd {q}
            mkdir -p docs/a/b bin empty 'with space'
            for i in $(seq 1 40); do head -c $((i * 97)) /dev/urandom > docs/a/f$i.dat; done
            printf 'hello\n' > docs/readme.txt; printf '#!/bin/sh\necho hi\n' > bin/run.sh; chmod 755 bin/run.sh
            printf 'x' > 'with space/a b.txt'; chmod 600 docs/a/f1.dat; chmod 444 docs/a/f2.dat
            ln -s ../docs/readme.txt bin/readme; ln -s b docs/a/b-link; ln -s /nonexistent/target dangling
            chmod 750 docs/a/b
            touch -d '2001-02-03 04:05:06.123456789' docs/readme.txt; touch -h -d '2002-01-01 00:00:01.5' bin/readme
            touch -d '1999-12-31 23:59:59.987654321' docs/a/b
            """);
        return src;
    }

    /// <summary>One line per entry: path, type, mode, mtime in nanoseconds, link target (symlink times left out:
    /// rsync -a does not keep them without --times on links, and neither side is asked to).</summary>
    private static async Task<string> ManifestAsync(string dir) =>
        await BashOkAsync($"cd {Q(dir)} && find . -mindepth 1 \\( -type l -printf '%p %y %l\\n' \\) -o \\( -type d -printf '%p %y %m\\n' \\) -o \\( -printf '%p %y %m %s %T@\\n' \\) | sort");

    [Test]
    public async Task Rsync_a_twice_copies_nothing_the_second_time_and_the_tree_comes_back_the_same()
    {
        var (s, bucket) = await BucketAsync("rsync");
        string src = await SourceTreeAsync();
        string mnt = Paths.NewDir("pxrsync");
        string want = await ManifestAsync(src);
        string cache = Paths.NewDir("pxcache");
        await using (var m = await MountAsync(s, bucket, mnt, cache))
        {
            await BashOkAsync($"rsync -a {Q(src)}/ {Q(mnt)}/tree/");
            Assert.That(await ManifestAsync(Path.Combine(mnt, "tree")), Is.EqualTo(want), "the tree as the mount shows it");
            await Task.Delay(1500); // past the 1 s metadata TTL: the listing must not turn links into files
            string again = await BashOkAsync($"rsync -a --itemize-changes {Q(src)}/ {Q(mnt)}/tree/");
            Assert.That(again.Split('\n').Where(l => l.StartsWith('>') || l.StartsWith('c')), Is.Empty, $"second rsync copied:\n{again}");
            await m.StopAsync();
        }
        // A remount on the same cache folder knows the attributes it learnt (no HEAD needed); one on an empty cache
        // folder learns them from the store with --exact-attrs (S3 listings carry no metadata).
        foreach (var (what, cacheDir, extra) in new[] { ("a remount", cache, Array.Empty<string>()), ("a remount with an empty cache and --exact-attrs", Paths.NewDir("pxcache"), new[] { "--exact-attrs" }) })
        {
            await using var m = await MountAsync(s, bucket, mnt, cacheDir, extra);
            Assert.That(await ManifestAsync(Path.Combine(mnt, "tree")), Is.EqualTo(want), $"the tree after {what}");
            string again = await BashOkAsync($"rsync -a --itemize-changes {Q(src)}/ {Q(mnt)}/tree/");
            Assert.That(again.Split('\n').Where(l => l.StartsWith('>') || l.StartsWith('c')), Is.Empty, $"rsync after {what} copied:\n{again}");
            string back = Paths.NewDir("pxback");
            await BashOkAsync($"rsync -a {Q(mnt)}/tree/ {Q(back)}/");
            Assert.That(await ManifestAsync(back), Is.EqualTo(want), $"the tree copied back out after {what}");
            await BashOkAsync($"diff -r --no-dereference {Q(src)} {Q(back)}");
            await m.StopAsync();
        }
    }

    [Test]
    public async Task Tar_x_then_tar_c_gives_the_same_archive_with_no_file_changed_while_read()
    {
        var (s, bucket) = await BucketAsync("tar");
        string src = await SourceTreeAsync();
        string work = Paths.NewDir("pxtar");
        string listing = "tar -tvf {0} --full-time | sort";
        await BashOkAsync($"cd {Q(src)} && tar --sort=name -cf {Q(work)}/in.tar .");
        string mnt = Paths.NewDir("pxtarmnt");
        await using var m = await MountAsync(s, bucket, mnt);
        await BashOkAsync($"mkdir {Q(mnt)}/x && tar -xpf {Q(work)}/in.tar -C {Q(mnt)}/x");
        await Task.Delay(1500);
        var c = await BashAsync($"cd {Q(mnt)}/x && tar --sort=name -cf {Q(work)}/out.tar .");
        Assert.That((c.ExitCode, c.Stderr), Is.EqualTo((0, "")), "tar c of the extracted tree");
        string a = await BashOkAsync(string.Format(listing, Q(work + "/in.tar")));
        string b = await BashOkAsync(string.Format(listing, Q(work + "/out.tar")));
        // Owner names differ only if the machine lacks them; directory sizes are the file system's own.
        Assert.That(b, Is.EqualTo(a), "tar tv of the archive made from the mount");
        await BashOkAsync($"cmp <(tar -xOf {Q(work)}/in.tar) <(tar -xOf {Q(work)}/out.tar)");
        await m.StopAsync();
    }

    [Test]
    public async Task Cp_a_keeps_modes_times_links_and_fifos_and_ls_shows_them_after_the_ttl()
    {
        var (s, bucket) = await BucketAsync("cpa");
        string src = await SourceTreeAsync();
        await BashOkAsync($"cd {Q(src)} && ln -s bin/run.sh l1 && mkfifo fifo && chmod 640 fifo && touch -d @1000000000.5 fifo");
        string mnt = Paths.NewDir("pxcp");
        await using var m = await MountAsync(s, bucket, mnt);
        await BashOkAsync($"cp -a {Q(src)}/. {Q(mnt)}/");
        await Task.Delay(1500);
        Assert.That((await BashOkAsync($"stat -c '%F %a' {Q(mnt)}/l1 {Q(mnt)}/fifo {Q(mnt)}/bin/run.sh")).Trim(),
            Is.EqualTo("symbolic link 777\nfifo 640\nregular file 755"));
        Assert.That(await ManifestAsync(mnt), Is.EqualTo(await ManifestAsync(src)));
        await m.StopAsync();
    }

    [Test]
    public async Task A_large_file_copied_with_cp_p_keeps_its_time_although_its_upload_streamed_before_the_time_was_set()
    {
        var (s, bucket) = await BucketAsync("bigtime");
        string src = Paths.NewDir("pxbig");
        await BashOkAsync($"head -c 40M /dev/urandom > {Q(src)}/big.bin && chmod 640 {Q(src)}/big.bin && touch -d '2003-04-05 06:07:08.5' {Q(src)}/big.bin");
        string want = (await BashOkAsync($"stat -c '%s %a %.9Y' {Q(src)}/big.bin")).Trim();
        string mnt = Paths.NewDir("pxbigmnt");
        await using (var m = await MountAsync(s, bucket, mnt))
        {
            await BashOkAsync($"cp -p {Q(src)}/big.bin {Q(mnt)}/");
            Assert.That((await BashOkAsync($"stat -c '%s %a %.9Y' {Q(mnt)}/big.bin")).Trim(), Is.EqualTo(want));
            await m.StopAsync();
        }
        await using (var m = await MountAsync(s, bucket, mnt, Paths.NewDir("pxcache"), "--exact-attrs"))
        {
            Assert.That((await BashOkAsync($"stat -c '%s %a %.9Y' {Q(mnt)}/big.bin")).Trim(), Is.EqualTo(want), "as stored");
            await BashOkAsync($"cmp {Q(src)}/big.bin {Q(mnt)}/big.bin");
            await m.StopAsync();
        }
    }

    [Test]
    public async Task Git_init_add_commit_gc_and_clone_work_on_the_mount()
    {
        var (s, bucket) = await BucketAsync("git");
        string src = await SourceTreeAsync();
        string mnt = Paths.NewDir("pxgit");
        string home = Paths.NewDir("pxgithome");
        string git = $"HOME={Q(home)} GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@x GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@x git";
        string cache = Paths.NewDir("pxcache");
        await using (var m = await MountAsync(s, bucket, mnt, cache))
        {
            string r = Q(mnt + "/repo");
            await BashOkAsync($"""
                set -e; cp -a {Q(src)} {r}; cd {r}
                {git} init -q -b main .; {git} add -A; {git} commit -q -m one
                echo more >> docs/readme.txt; chmod +x docs/readme.txt; {git} commit -q -am two
                {git} gc -q; {git} fsck --strict
                """);
            Assert.That((await BashOkAsync($"cd {r} && {git} status --porcelain")).Trim(), Is.Empty, "git status after the commits");
            await m.StopAsync();
        }
        await using (var m = await MountAsync(s, bucket, mnt, cache))
        {
            string r = Q(mnt + "/repo");
            Assert.That((await BashOkAsync($"cd {r} && {git} status --porcelain")).Trim(), Is.Empty, "git status after a remount");
            Assert.That((await BashOkAsync($"cd {r} && {git} log --format=%s")).Trim(), Is.EqualTo("two\none"));
            string clone = Paths.NewDir("pxclone");
            await BashOkAsync($"{git} clone -q {r} {Q(clone)}/c && {git} clone -q {Q(clone)}/c {r}2");
            Assert.That((await BashOkAsync($"stat -c %a {r}2/docs/readme.txt {r}2/bin/run.sh")).Trim(), Is.EqualTo("755\n755"));
            Assert.That((await BashOkAsync($"readlink {r}2/bin/readme")).Trim(), Is.EqualTo("../docs/readme.txt"));
            await BashOkAsync($"cd {r}2 && {git} fsck --strict && test -z \"$({git} status --porcelain)\"");
            await m.StopAsync();
        }
    }
}
