using System.Text;
using CloudMount.Core.Storage;
using CloudMount.Core.Storage.Decorators;
using CloudMount.Core.Vfs;

namespace CloudMount.Tests.Unit;

/// <summary>Filesystem semantics on mem://, with the requests each operation costs.</summary>
public sealed class VfsTests
{
    private VfsHarness _h = null!;

    [SetUp]
    public void SetUp() => _h = new VfsHarness();

    [TearDown]
    public async Task TearDown() => await _h.DisposeAsync();

    private static byte[] U(string s) => Encoding.UTF8.GetBytes(s);

    [Test]
    public async Task Listing_a_directory_costs_one_list_and_lookups_of_its_entries_cost_nothing()
    {
        for (int i = 0; i < 30; i++) await _h.PutAsync($"dir/f{i:00}.txt", new string('x', i));
        await _h.PutAsync("dir/sub/deep.txt", "d");
        var dir = await _h.WalkAsync("dir");
        long listsBefore = _h.Requests(RequestKind.List);
        var entries = await _h.ListAsync(dir.Attributes.Ino);
        Assert.That(entries.Select(e => e.Name), Is.EqualTo(new[] { ".", ".." }.Concat(Enumerable.Range(0, 30).Select(i => $"f{i:00}.txt")).Append("sub")));
        Assert.That(entries.Single(e => e.Name == "f07.txt").Attributes.Size, Is.EqualTo(7), "sizes come from the listing");
        Assert.That(entries.Single(e => e.Name == "sub").Attributes.Kind, Is.EqualTo(NodeKind.Directory));
        foreach (var e in entries.Skip(2))
        {
            var found = await _h.Fs.LookupAsync(dir.Attributes.Ino, e.Name, CancellationToken.None);
            Assert.That(found.Attributes.Ino, Is.EqualTo(e.Attributes.Ino));
            Assert.That(found.Attributes.Size, Is.EqualTo(e.Attributes.Size));
        }
        Assert.That(_h.Requests(RequestKind.List) - listsBefore, Is.EqualTo(1));
        Assert.That(_h.Requests(RequestKind.Head), Is.Zero, "ls -l needs no HEAD");
    }

    [Test]
    public async Task Large_directories_take_one_list_per_thousand_entries()
    {
        for (int i = 0; i < 2500; i++) await _h.PutAsync($"big/{i:0000}", "");
        var dir = await _h.WalkAsync("big");
        long before = _h.Requests(RequestKind.List);
        var entries = await _h.ListAsync(dir.Attributes.Ino);
        Assert.That(entries, Has.Count.EqualTo(2502));
        Assert.That(_h.Requests(RequestKind.List) - before, Is.EqualTo(3));
    }

    [Test]
    public async Task A_cold_lookup_costs_one_list_and_no_head()
    {
        await _h.PutAsync("a/b/c.txt", "hello");
        var e = await _h.WalkAsync("a/b/c.txt");
        Assert.That(e.Attributes.Size, Is.EqualTo(5));
        Assert.That(_h.Requests(RequestKind.List), Is.EqualTo(3), "one LIST per path component");
        Assert.That(_h.Requests(RequestKind.Head), Is.Zero);
    }

    [Test]
    public async Task Cached_entries_and_negative_entries_expire_after_the_ttl()
    {
        await _h.PutAsync("f.txt", "1");
        await _h.WalkAsync("f.txt");
        Assert.ThrowsAsync<FileSystemException>(() => _h.WalkAsync("missing"));
        long lists = _h.Requests(RequestKind.List);
        await _h.WalkAsync("f.txt");
        var ex = Assert.ThrowsAsync<FileSystemException>(() => _h.WalkAsync("missing"));
        Assert.That(ex!.Error, Is.EqualTo(FsError.NotFound));
        Assert.That(_h.Requests(RequestKind.List), Is.EqualTo(lists), "within the TTL nothing is asked again");

        await _h.PutAsync("missing", "now here");
        await _h.PutAsync("f.txt", "changed by another client");
        _h.Clock.Advance(TimeSpan.FromSeconds(6));
        Assert.That((await _h.WalkAsync("missing")).Attributes.Size, Is.EqualTo(8));
        Assert.That((await _h.WalkAsync("f.txt")).Attributes.Size, Is.EqualTo(25));
    }

    [Test]
    public async Task A_folder_holding_only_folders_and_markers_are_directories()
    {
        await _h.PutAsync("outer/inner/deep.txt", "x");
        await _h.PutAsync("empty/", "");
        var root = await _h.ListAsync(CloudFileSystem.RootIno);
        Assert.That(root.Skip(2).Select(e => (e.Name, e.Attributes.Kind)),
            Is.EqualTo(new[] { ("empty", NodeKind.Directory), ("outer", NodeKind.Directory) }));
        var empty = await _h.WalkAsync("empty");
        Assert.That((await _h.ListAsync(empty.Attributes.Ino)).Select(e => e.Name), Is.EqualTo(new[] { ".", ".." }));
    }

    [Test]
    public async Task Keys_that_cannot_be_paths_are_skipped_and_directories_win_over_files()
    {
        await _h.PutAsync("ok.txt", "1");
        await _h.PutAsync("a//b", "2");
        await _h.PutAsync("./x", "3");
        await _h.PutAsync("../y", "4");
        await _h.PutAsync(new string('n', 256), "5");
        await _h.PutAsync("both", "file");
        await _h.PutAsync("both/inside", "dir");
        var names = (await _h.ListAsync(CloudFileSystem.RootIno)).Skip(2).Select(e => e.Name).ToList();
        Assert.That(names, Is.EqualTo(new[] { "a", "both", "ok.txt" }));
        var a = await _h.WalkAsync("a");
        Assert.That((await _h.ListAsync(a.Attributes.Ino)).Skip(2), Is.Empty, "the empty segment of a//b is not a name");
        var both = await _h.WalkAsync("both");
        Assert.That(both.Attributes.Kind, Is.EqualTo(NodeKind.Directory));
    }

    [Test]
    public async Task Create_write_flush_uploads_once_with_exact_bytes()
    {
        var (entry, open) = await _h.Fs.CreateAsync(CloudFileSystem.RootIno, "new.txt", OpenFlags.Write, CancellationToken.None);
        await _h.Fs.WriteAsync(open.Handle, 0, U("hello "), CancellationToken.None);
        await _h.Fs.WriteAsync(open.Handle, 6, U("world"), CancellationToken.None);
        await _h.Fs.WriteAsync(open.Handle, 0, U("J"), CancellationToken.None);
        Assert.That(_h.Requests(RequestKind.Put), Is.Zero, "nothing is uploaded before flush");
        var names = (await _h.ListAsync(CloudFileSystem.RootIno)).Select(e => e.Name);
        Assert.That(names, Does.Contain("new.txt"), "a file being written is listed");
        await _h.Fs.FlushAsync(open.Handle, CancellationToken.None);
        await _h.Fs.FlushAsync(open.Handle, CancellationToken.None);
        await _h.Fs.ReleaseAsync(open.Handle);
        Assert.That(_h.Requests(RequestKind.Put), Is.EqualTo(1));
        Assert.That(await _h.GetTextAsync("new.txt"), Is.EqualTo("Jello world"));
        var attrs = await _h.Fs.GetAttrAsync(entry.Attributes.Ino, CancellationToken.None);
        Assert.That(attrs.Size, Is.EqualTo(11));
        Assert.That(Directory.GetFiles(_h.Staging, "*.data"), Is.Empty, "a clean staging file is removed at release");
    }

    [Test]
    public async Task Opening_for_write_without_changes_uploads_nothing_and_append_keeps_old_bytes()
    {
        await _h.PutAsync("log.txt", "line1\n");
        var f = await _h.WalkAsync("log.txt");
        var o = await _h.Fs.OpenAsync(f.Attributes.Ino, OpenFlags.Write, CancellationToken.None);
        await _h.Fs.FlushAsync(o.Handle, CancellationToken.None);
        await _h.Fs.ReleaseAsync(o.Handle);
        Assert.That(_h.Requests(RequestKind.Put), Is.Zero);
        Assert.That(_h.Requests(RequestKind.Get), Is.Zero, "no fetch of the object when nothing is written");

        var a = await _h.Fs.OpenAsync(f.Attributes.Ino, OpenFlags.Write | OpenFlags.Append, CancellationToken.None);
        await _h.Fs.WriteAsync(a.Handle, 6, U("line2\n"), CancellationToken.None);
        await _h.Fs.FlushAsync(a.Handle, CancellationToken.None);
        await _h.Fs.ReleaseAsync(a.Handle);
        Assert.That(await _h.GetTextAsync("log.txt"), Is.EqualTo("line1\nline2\n"));
    }

    [Test]
    public async Task Truncate_at_open_needs_no_download()
    {
        await _h.PutAsync("t.txt", new string('z', 100_000));
        var f = await _h.WalkAsync("t.txt");
        var o = await _h.Fs.OpenAsync(f.Attributes.Ino, OpenFlags.Write | OpenFlags.Truncate, CancellationToken.None);
        await _h.Fs.WriteAsync(o.Handle, 0, U("short"), CancellationToken.None);
        await _h.Fs.FlushAsync(o.Handle, CancellationToken.None);
        await _h.Fs.ReleaseAsync(o.Handle);
        Assert.That(_h.Requests(RequestKind.Get), Is.Zero);
        Assert.That(await _h.GetTextAsync("t.txt"), Is.EqualTo("short"));
    }

    [Test]
    public async Task Setattr_size_without_a_handle_uploads_at_once()
    {
        await _h.PutAsync("s.txt", "0123456789");
        var f = await _h.WalkAsync("s.txt");
        var attrs = await _h.Fs.SetAttrAsync(f.Attributes.Ino, new SetAttributes { Size = 4 }, null, CancellationToken.None);
        Assert.That(attrs.Size, Is.EqualTo(4));
        Assert.That(await _h.GetTextAsync("s.txt"), Is.EqualTo("0123"));
        await _h.Fs.SetAttrAsync(f.Attributes.Ino, new SetAttributes { Size = 6 }, null, CancellationToken.None);
        Assert.That(await _h.GetTextAsync("s.txt"), Is.EqualTo("0123\0\0"));
    }

    [Test]
    public async Task A_failed_upload_fails_flush_keeps_the_data_and_a_later_flush_succeeds()
    {
        _h.Faults.Fail = (op, key) => op == "put" ? new ObjectStoreException("injected: service unavailable") : null;
        var (_, open) = await _h.Fs.CreateAsync(CloudFileSystem.RootIno, "precious.dat", OpenFlags.Write, CancellationToken.None);
        await _h.Fs.WriteAsync(open.Handle, 0, U("do not lose me"), CancellationToken.None);
        var ex = Assert.ThrowsAsync<FileSystemException>(async () => await _h.Fs.FlushAsync(open.Handle, CancellationToken.None));
        Assert.That(ex!.Error, Is.EqualTo(FsError.Io));
        Assert.That(await _h.GetTextAsync("precious.dat"), Is.Null, "no half-written object");
        var data = Directory.GetFiles(_h.Staging, "*.data").Single();
        Assert.That(File.ReadAllText(data), Is.EqualTo("do not lose me"));
        var sidecar = File.ReadAllText(Path.ChangeExtension(data, ".json"));
        Assert.That(sidecar, Does.Contain("precious.dat").And.Contain("mem://unit"));

        _h.Faults.Fail = (_, _) => null;
        await _h.Fs.FlushAsync(open.Handle, CancellationToken.None);
        await _h.Fs.ReleaseAsync(open.Handle);
        Assert.That(await _h.GetTextAsync("precious.dat"), Is.EqualTo("do not lose me"));
        Assert.That(Directory.GetFiles(_h.Staging, "*.data"), Is.Empty);
    }

    [Test]
    public async Task A_failed_upload_at_release_keeps_the_staging_file()
    {
        _h.Faults.Fail = (op, _) => op == "put" ? new ObjectStoreException("injected") : null;
        var (_, open) = await _h.Fs.CreateAsync(CloudFileSystem.RootIno, "kept.dat", OpenFlags.Write, CancellationToken.None);
        await _h.Fs.WriteAsync(open.Handle, 0, U("kept"), CancellationToken.None);
        Assert.ThrowsAsync<FileSystemException>(async () => await _h.Fs.FlushAsync(open.Handle, CancellationToken.None));
        await _h.Fs.ReleaseAsync(open.Handle);
        await _h.Fs.DisposeAsync();
        var data = Directory.GetFiles(_h.Staging, "*.data").Single();
        Assert.That(File.ReadAllText(data), Is.EqualTo("kept"));
        Assert.That(File.Exists(Path.ChangeExtension(data, ".json")));
    }

    [Test]
    public async Task Reads_are_pinned_to_the_version_seen_at_open()
    {
        var v1 = new byte[3 * 1024 * 1024];
        new Random(1).NextBytes(v1);
        await _h.PutAsync("pinned.bin", v1);
        var f = await _h.WalkAsync("pinned.bin");
        var o = await _h.Fs.OpenAsync(f.Attributes.Ino, OpenFlags.Read, CancellationToken.None);
        var buf = new byte[4096];
        Assert.That(await _h.Fs.ReadAsync(o.Handle, 0, buf, CancellationToken.None), Is.EqualTo(4096));
        await _h.PutAsync("pinned.bin", new byte[3 * 1024 * 1024]);
        var ex = Assert.ThrowsAsync<PreconditionFailedException>(async () => await _h.Fs.ReadAsync(o.Handle, 2 * 1024 * 1024 + 17, buf, CancellationToken.None));
        Assert.That(FileSystemException.Classify(ex!), Is.EqualTo(FsError.Stale));
        await _h.Fs.ReleaseAsync(o.Handle);
    }

    [Test]
    public async Task Reading_a_whole_small_file_costs_one_get()
    {
        await _h.PutAsync("small.txt", "tiny content");
        var f = await _h.WalkAsync("small.txt");
        Assert.That(Encoding.UTF8.GetString(await _h.ReadFileAsync(f.Attributes.Ino)), Is.EqualTo("tiny content"));
        Assert.That(_h.Requests(RequestKind.Get), Is.EqualTo(1));
        Assert.That(_h.Requests(RequestKind.Head), Is.Zero);
    }

    [Test]
    public async Task Rename_of_a_file_copies_then_deletes()
    {
        await _h.PutAsync("from.txt", "moving");
        await _h.PutAsync("d1/x", "x");
        var dir = await _h.Fs.MkdirAsync(CloudFileSystem.RootIno, "d2", CancellationToken.None);
        await _h.Fs.RenameAsync(CloudFileSystem.RootIno, "from.txt", dir.Attributes.Ino, "to.txt", RenameFlags.None, CancellationToken.None);
        Assert.That(await _h.GetTextAsync("from.txt"), Is.Null);
        Assert.That(await _h.GetTextAsync("d2/to.txt"), Is.EqualTo("moving"));
        Assert.That(_h.Requests(RequestKind.Copy), Is.EqualTo(1));
        var names = (await _h.ListAsync(dir.Attributes.Ino)).Skip(2).Select(e => e.Name);
        Assert.That(names, Is.EqualTo(new[] { "to.txt" }));
        Assert.ThrowsAsync<FileSystemException>(() => _h.WalkAsync("from.txt"));
        var noReplace = Assert.ThrowsAsync<FileSystemException>(async () => await _h.Fs.RenameAsync(dir.Attributes.Ino, "to.txt", CloudFileSystem.RootIno, "d1", RenameFlags.NoReplace, CancellationToken.None));
        Assert.That(noReplace!.Error, Is.EqualTo(FsError.Exists));
    }

    [Test]
    public async Task Renaming_a_file_not_yet_uploaded_uploads_it_under_the_new_name_only()
    {
        var (_, open) = await _h.Fs.CreateAsync(CloudFileSystem.RootIno, "tmp.part", OpenFlags.Write, CancellationToken.None);
        await _h.Fs.WriteAsync(open.Handle, 0, U("data"), CancellationToken.None);
        await _h.Fs.RenameAsync(CloudFileSystem.RootIno, "tmp.part", CloudFileSystem.RootIno, "final.dat", RenameFlags.None, CancellationToken.None);
        await _h.Fs.FlushAsync(open.Handle, CancellationToken.None);
        await _h.Fs.ReleaseAsync(open.Handle);
        Assert.That(await _h.GetTextAsync("final.dat"), Is.EqualTo("data"));
        Assert.That(await _h.GetTextAsync("tmp.part"), Is.Null);
        Assert.That(_h.Requests(RequestKind.Copy) + _h.Requests(RequestKind.Delete), Is.Zero);
    }

    [Test]
    public async Task Mkdir_writes_a_marker_and_rmdir_refuses_non_empty_directories()
    {
        var d = await _h.Fs.MkdirAsync(CloudFileSystem.RootIno, "made", CancellationToken.None);
        Assert.That(await _h.GetTextAsync("made/"), Is.EqualTo(""));
        await _h.PutAsync("made/inside", "i");
        // Another client's key becomes visible once the new directory's (empty) listing expires.
        _h.Clock.Advance(TimeSpan.FromSeconds(6));
        var ex = Assert.ThrowsAsync<FileSystemException>(async () => await _h.Fs.RmdirAsync(CloudFileSystem.RootIno, "made", CancellationToken.None));
        Assert.That(ex!.Error, Is.EqualTo(FsError.NotEmpty));
        await _h.Fs.UnlinkAsync(d.Attributes.Ino, "inside", CancellationToken.None);
        await _h.Fs.RmdirAsync(CloudFileSystem.RootIno, "made", CancellationToken.None);
        Assert.That(await _h.GetTextAsync("made/"), Is.Null);
        Assert.ThrowsAsync<FileSystemException>(() => _h.WalkAsync("made"));
        await _h.Fs.MkdirAsync(CloudFileSystem.RootIno, "made2", CancellationToken.None);
        var exists = Assert.ThrowsAsync<FileSystemException>(async () => await _h.Fs.MkdirAsync(CloudFileSystem.RootIno, "made2", CancellationToken.None));
        Assert.That(exists!.Error, Is.EqualTo(FsError.Exists));
    }

    [Test]
    public async Task A_root_prefix_shows_only_keys_under_it()
    {
        await using var h = new VfsHarness("team/");
        await h.PutAsync("team/a.txt", "a");
        await h.PutAsync("other/b.txt", "b");
        Assert.That((await h.ListAsync(CloudFileSystem.RootIno)).Skip(2).Select(e => e.Name), Is.EqualTo(new[] { "a.txt" }));
        var (_, open) = await h.Fs.CreateAsync(CloudFileSystem.RootIno, "c.txt", OpenFlags.Write, CancellationToken.None);
        await h.Fs.FlushAsync(open.Handle, CancellationToken.None);
        await h.Fs.ReleaseAsync(open.Handle);
        Assert.That(await h.GetTextAsync("team/c.txt"), Is.EqualTo(""));
    }

    [Test]
    public async Task A_read_only_mount_refuses_changes()
    {
        await using var h = new VfsHarness(readOnly: true);
        await h.PutAsync("r.txt", "r");
        var f = await h.WalkAsync("r.txt");
        Assert.That(Assert.ThrowsAsync<FileSystemException>(async () => await h.Fs.OpenAsync(f.Attributes.Ino, OpenFlags.Write, CancellationToken.None))!.Error, Is.EqualTo(FsError.ReadOnly));
        Assert.That(Assert.ThrowsAsync<FileSystemException>(async () => await h.Fs.CreateAsync(CloudFileSystem.RootIno, "n", OpenFlags.Write, CancellationToken.None))!.Error, Is.EqualTo(FsError.ReadOnly));
        Assert.That(Assert.ThrowsAsync<FileSystemException>(async () => await h.Fs.UnlinkAsync(CloudFileSystem.RootIno, "r.txt", CancellationToken.None))!.Error, Is.EqualTo(FsError.ReadOnly));
        Assert.That(await h.GetTextAsync("r.txt"), Is.EqualTo("r"));
    }

    [Test]
    public async Task Forget_releases_inodes()
    {
        for (int i = 0; i < 20; i++) await _h.PutAsync($"f{i}", "x");
        int before = _h.Fs.InodeCount;
        var entries = await _h.ListAsync(CloudFileSystem.RootIno);
        Assert.That(_h.Fs.InodeCount, Is.EqualTo(before + 20));
        foreach (var e in entries.Skip(2))
        {
            _h.Fs.Forget(e.Attributes.Ino, 1);
        }
        Assert.That(_h.Fs.InodeCount, Is.EqualTo(before));
    }

    [Test]
    public async Task A_large_file_goes_up_in_parts_while_it_is_written()
    {
        var data = new byte[10 * 1024 * 1024 + 777];
        new Random(31).NextBytes(data);
        var (_, open) = await _h.Fs.CreateAsync(CloudFileSystem.RootIno, "big.bin", OpenFlags.Write, CancellationToken.None);
        for (int off = 0; off < data.Length; off += 128 * 1024)
        {
            await _h.Fs.WriteAsync(open.Handle, off, data.AsMemory(off, Math.Min(128 * 1024, data.Length - off)), CancellationToken.None);
        }
        // Give the background part uploads a moment; they run while the file is still open.
        for (int i = 0; i < 100 && _h.Requests(RequestKind.Put) < 5; i++) await Task.Delay(20);
        Assert.That(_h.Requests(RequestKind.Put), Is.GreaterThanOrEqualTo(5), "parts went up before close");
        Assert.That(await _h.Backend.HeadAsync("big.bin", CancellationToken.None), Is.Null, "but nothing is visible yet");
        // Rewrite a byte in a part that was already sent: it must be sent again.
        data[1_500_000] ^= 0xFF;
        await _h.Fs.WriteAsync(open.Handle, 1_500_000, data.AsMemory(1_500_000, 1), CancellationToken.None);
        await _h.Fs.FlushAsync(open.Handle, CancellationToken.None);
        await _h.Fs.ReleaseAsync(open.Handle);
        await using var r = await _h.Backend.ReadAsync("big.bin", ByteRange.All, null, CancellationToken.None);
        using var ms = new MemoryStream();
        await r.Content.CopyToAsync(ms);
        Assert.That(ms.ToArray().AsSpan().SequenceEqual(data), "the object holds exactly the written bytes");
    }

    [Test]
    public async Task Truncating_a_file_being_uploaded_in_parts_stores_the_truncated_bytes()
    {
        var data = new byte[6 * 1024 * 1024];
        new Random(32).NextBytes(data);
        var (entry, open) = await _h.Fs.CreateAsync(CloudFileSystem.RootIno, "cut.bin", OpenFlags.Write, CancellationToken.None);
        await _h.Fs.WriteAsync(open.Handle, 0, data, CancellationToken.None);
        await _h.Fs.SetAttrAsync(entry.Attributes.Ino, new SetAttributes { Size = 2_500_000 }, open.Handle, CancellationToken.None);
        await _h.Fs.FlushAsync(open.Handle, CancellationToken.None);
        await _h.Fs.ReleaseAsync(open.Handle);
        await using var r = await _h.Backend.ReadAsync("cut.bin", ByteRange.All, null, CancellationToken.None);
        using var ms = new MemoryStream();
        await r.Content.CopyToAsync(ms);
        Assert.That(ms.ToArray().AsSpan().SequenceEqual(data.AsSpan(0, 2_500_000)));
    }

    [Test]
    public async Task Renaming_a_directory_moves_every_key_under_it()
    {
        await _h.PutAsync("old/a.txt", "a");
        await _h.PutAsync("old/sub/b.txt", "b");
        await _h.PutAsync("old/", "");
        await _h.PutAsync("oldish.txt", "not inside");
        var old = await _h.WalkAsync("old");
        await _h.ListAsync(old.Attributes.Ino);
        await _h.Fs.RenameAsync(CloudFileSystem.RootIno, "old", CloudFileSystem.RootIno, "new", RenameFlags.None, CancellationToken.None);
        var keys = (await _h.Backend.ListAsync(new ListRequest("", null), CancellationToken.None)).Objects.Select(o => o.Key);
        Assert.That(keys, Is.EqualTo(new[] { "new/", "new/a.txt", "new/sub/b.txt", "oldish.txt" }));
        Assert.That(_h.Requests(RequestKind.Copy), Is.EqualTo(3));
        // The same inode is now reachable under the new name, with its children.
        var moved = await _h.WalkAsync("new");
        Assert.That(moved.Attributes.Ino, Is.EqualTo(old.Attributes.Ino));
        Assert.That((await _h.ListAsync(moved.Attributes.Ino)).Skip(2).Select(e => e.Name), Is.EqualTo(new[] { "a.txt", "sub" }));
        Assert.ThrowsAsync<FileSystemException>(() => _h.WalkAsync("old"));
        // A new directory of the old name starts empty, not with the old listing.
        var again = await _h.Fs.MkdirAsync(CloudFileSystem.RootIno, "old", CancellationToken.None);
        Assert.That((await _h.ListAsync(again.Attributes.Ino)).Skip(2), Is.Empty);
    }

    [Test]
    public async Task An_interrupted_directory_rename_leaves_everything_under_the_old_name()
    {
        for (int i = 0; i < 10; i++) await _h.PutAsync($"src/f{i}", $"{i}");
        int copies = 0;
        _h.Faults.Fail = (op, _) => op == "copy" && Interlocked.Increment(ref copies) == 6 ? new ObjectStoreException("injected: copy failed") : null;
        var ex = Assert.ThrowsAsync<FileSystemException>(async () => await _h.Fs.RenameAsync(CloudFileSystem.RootIno, "src", CloudFileSystem.RootIno, "dst", RenameFlags.None, CancellationToken.None));
        Assert.That(ex!.Error, Is.EqualTo(FsError.Io));
        var keys = (await _h.Backend.ListAsync(new ListRequest("", null), CancellationToken.None)).Objects.Select(o => o.Key).ToList();
        Assert.That(keys.Count(k => k.StartsWith("src/")), Is.EqualTo(10), "nothing lost under the old name");
        Assert.That(keys.Where(k => k.StartsWith("dst/")), Is.Empty, "partial copies taken back");
    }

    [Test]
    public async Task A_directory_may_replace_an_empty_one_but_not_a_full_one_or_itself()
    {
        await _h.PutAsync("a/x", "x");
        await _h.PutAsync("empty/", "");
        await _h.PutAsync("full/y", "y");
        await _h.Fs.RenameAsync(CloudFileSystem.RootIno, "a", CloudFileSystem.RootIno, "empty", RenameFlags.None, CancellationToken.None);
        Assert.That(await _h.GetTextAsync("empty/x"), Is.EqualTo("x"));
        var full = Assert.ThrowsAsync<FileSystemException>(async () => await _h.Fs.RenameAsync(CloudFileSystem.RootIno, "empty", CloudFileSystem.RootIno, "full", RenameFlags.None, CancellationToken.None));
        Assert.That(full!.Error, Is.EqualTo(FsError.NotEmpty));
        var inner = await _h.WalkAsync("full");
        var self = Assert.ThrowsAsync<FileSystemException>(async () => await _h.Fs.RenameAsync(CloudFileSystem.RootIno, "full", inner.Attributes.Ino, "deeper", RenameFlags.None, CancellationToken.None));
        Assert.That(self!.Error, Is.EqualTo(FsError.InvalidArgument));
    }

    [Test]
    public async Task After_the_ttl_a_small_directory_is_listed_again_once_rather_than_per_name()
    {
        for (int i = 0; i < 50; i++) await _h.PutAsync($"d/f{i:00}", "x");
        var d = await _h.WalkAsync("d");
        await _h.ListAsync(d.Attributes.Ino);
        _h.Clock.Advance(TimeSpan.FromSeconds(6));
        long lists = _h.Requests(RequestKind.List);
        for (int i = 0; i < 50; i++)
        {
            await _h.Fs.LookupAsync(d.Attributes.Ino, $"f{i:00}", CancellationToken.None);
        }
        Assert.That(_h.Requests(RequestKind.List) - lists, Is.EqualTo(1), "one LIST refreshed all 50 names");
        Assert.That(_h.Requests(RequestKind.Head), Is.Zero);
    }
}
