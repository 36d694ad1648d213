using CloudMount.Tests.Support;
using static CloudMount.Tests.Support.ProcessRunner;

namespace CloudMount.Tests.Fuse;

/// <summary>
/// Bounds on the read side through real mounts: descriptors stay bounded however many files are read (the disk
/// cache keeps a small LRU of open data files), and the mount is alive and exact afterwards.
/// </summary>
[NonParallelizable]
public sealed class ReadBoundsTests
{
    // The bytes of file i: its name repeated, so a reader can check them without a table.
    private const string Content = "def content(name, i): return ((name + '\\n') * (i % 37 + 1)).encode()";

    [Test]
    public async Task Three_thousand_files_read_under_ulimit_400_are_exact_and_the_mount_lives_on()
    {
        // S3 objects carry ETags, so every file read goes through the disk cache (one entry per object).
        var s3 = await TestServers.S3rver;
        string bucket = await s3.NewBucketAsync("many");
        const int folders = 3, perFolder = 1000; // 7.5 times the descriptor limit below
        const string seed = """
            import os, sys
            CONTENT
            root, folders, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
            for d in range(folders):
                os.makedirs(f"{root}/d{d:02}", exist_ok=True)
                for f in range(per):
                    name = f"d{d:02}/f{f:04}.txt"
                    with open(f"{root}/{name}", "wb") as out: out.write(content(name, d * per + f))
            """;
        string local = Paths.NewDir("manyseed");
        string seedPy = Path.Combine(Paths.NewDir("manyscript"), "seed.py");
        await File.WriteAllTextAsync(seedPy, seed.Replace("CONTENT", Content));
        await BashOkAsync($"python3 {Q(seedPy)} {Q(local)} {folders} {perFolder}", timeout: TimeSpan.FromMinutes(2));
        using (var client = s3.NewClient())
        {
            var files = Directory.GetFiles(local, "*", SearchOption.AllDirectories);
            await Parallel.ForEachAsync(files, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (path, ct) =>
            {
                await client.PutObjectAsync(new Amazon.S3.Model.PutObjectRequest
                {
                    BucketName = bucket, Key = Path.GetRelativePath(local, path), FilePath = path, UseChunkEncoding = false,
                }, ct);
            });
        }
        string mnt = Paths.NewDir("manymnt"), cacheDir = Paths.NewDir("manycache");
        await using var mount = await MountProcess.StartAsync($"s3://{bucket}", mnt,
            ["--endpoint", s3.Endpoint.ToString(), "--cache-dir", cacheDir], s3.Env, openFileLimit: 400);

        const string check = """
            import sys, concurrent.futures
            CONTENT
            root, folders, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
            def check(i):
                d, f = divmod(i, per)
                name = f"d{d:02}/f{f:04}.txt"
                with open(f"{root}/{name}", "rb") as fh: data = fh.read()
                return data == content(name, i)
            with concurrent.futures.ThreadPoolExecutor(4) as pool:
                results = list(pool.map(check, range(folders * per), chunksize=64))
            print("ok", sum(results), "bad", len(results) - sum(results))
            """;
        string checkPy = Path.Combine(Paths.NewDir("manycheck"), "check.py");
        await File.WriteAllTextAsync(checkPy, check.Replace("CONTENT", Content));
        var read = await BashAsync($"python3 {Q(checkPy)} {Q(mnt)} {folders} {perFolder}", timeout: TimeSpan.FromMinutes(15));
        Assert.That(read.ExitCode, Is.Zero, read.ToString());
        Assert.That(read.Stdout.Trim(), Is.EqualTo($"ok {folders * perFolder} bad 0"), read.ToString());

        int descriptors = Directory.GetFiles($"/proc/{mount.Pid}/fd").Length;
        Assert.That(descriptors, Is.LessThan(300), "the mount's descriptors stay bounded (disk cache LRU of open files)");
        // Alive and exact afterwards: a listing, a re-read, a new name.
        Assert.That((await BashOkAsync($"ls {Q(mnt)}/d01 | wc -l")).Trim(), Is.EqualTo(perFolder.ToString()));
        Assert.That(await BashOkAsync($"head -c 11 {Q(mnt)}/d02/f0999.txt"), Is.EqualTo("d02/f0999.t"));
        // Unmounting claims the cache records of the files read last (one syncfs for all of them); on a loaded
        // machine that takes longer than a small mount's unmount.
        string log = await mount.StopAsync(TimeSpan.FromMinutes(3));
        Assert.That(mount.ExitCode, Is.Zero, log);
        Assert.That(log, Does.Not.Contain("Too many open files").And.Not.Contain("Out of memory"));
        // The files were opened without a listing: each directory is listed (again after each TTL), not each name.
        var requests = System.Text.RegularExpressions.Regex.Match(log, @"requests: LIST (\d+), HEAD (\d+), GET (\d+)");
        Assert.That(requests.Success, Is.True, log);
        Assert.That(int.Parse(requests.Groups[3].Value), Is.InRange(folders * perFolder, folders * perFolder + 1), "one GET per file (the re-read may come from the cache)");
        Assert.That(int.Parse(requests.Groups[1].Value), Is.LessThan(folders * perFolder / 3), "lookups of unlisted names share listings");
        var size = await CloudMountAsync(["cache", "size", "--cache-dir", cacheDir]);
        Assert.That(size.Stdout, Does.Contain($"in {folders * perFolder} object versions"), "every file went through the disk cache");
    }
}
