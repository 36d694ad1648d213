using System.Text;
using CloudMount.Core.Storage.Decorators;
using CloudMount.Core.Vfs;
using CloudMount.Windows;
using CloudMount.Windows.Interop;
using static CloudMount.Windows.Interop.WinConstants;

namespace CloudMount.Tests.Windows;

/// <summary>
/// The request sequences Windows programs issue, played against the WinFsp adapter's logic over real mem:// and
/// file:// stores: the objects in the store and the NTSTATUS answers are what is asserted. (The native calls
/// around this logic cannot run here: no Windows.)
/// </summary>
[TestFixture("mem")]
[TestFixture("file")]
public sealed class WindowsSequenceTests(string backend)
{
    [Test]
    public async Task Explorer_copy_in_stores_the_bytes_once_cleanup_has_run()
    {
        await using var h = new WinFsHarness(backend);
        await h.PutAsync("data/keep.txt", "x");
        var data = new byte[150_000];
        new Random(12).NextBytes(data);

        // CopyFileEx: CreateFile(FILE_OVERWRITE_IF), SetFileSize (allocation, then end of file), writes of 64 KiB,
        // SetBasicInfo with the source's times, CloseHandle.
        var (status, ctx, info) = await h.CreateFileAsync(@"\data\in.csv", FileOverwriteIf, WinFsHarness.WriteAccess, FileNonDirectoryFile);
        Assert.That(status, Is.EqualTo(NtStatus.Success));
        Assert.That(info.FileSize, Is.Zero);
        Assert.That((await h.Adapter.SetFileSizeAsync(ctx, 151_552, setAllocationSize: true)).Status, Is.EqualTo(NtStatus.Success));
        var sized = await h.Adapter.SetFileSizeAsync(ctx, (ulong)data.Length, setAllocationSize: false);
        Assert.That(sized.Value.FileSize, Is.EqualTo((ulong)data.Length));
        for (int off = 0; off < data.Length; off += 65536)
        {
            var w = await h.Adapter.WriteAsync(ctx, off, data.AsMemory(off, Math.Min(65536, data.Length - off)), false, false);
            Assert.That(w.Status, Is.EqualTo(NtStatus.Success));
        }
        var when = new DateTimeOffset(2024, 5, 6, 7, 8, 9, TimeSpan.Zero);
        var basic = await h.Adapter.SetBasicInfoAsync(ctx, FileAttributeArchive, 0, 0, FileInfoMapper.ToFileTime(when), 0);
        Assert.That(basic.Status, Is.EqualTo(NtStatus.Success));
        Assert.That(await h.HeadAsync("data/in.csv"), Is.Null, "nothing is uploaded before Cleanup");

        await h.CloseHandleAsync(ctx);
        Assert.That(await h.GetAsync("data/in.csv"), Is.EqualTo(data));
        Assert.That(h.Stats[RequestKind.Put], Is.EqualTo(1), "one upload");
        var listed = await h.ListAsync(@"\data");
        Assert.That(listed.Entries.Single(e => e.Name == "in.csv").Info.FileSize, Is.EqualTo((ulong)data.Length));
        Assert.That(h.Adapter.HandleCount, Is.Zero);
        Assert.That(h.Fs.OpenHandleCount, Is.Zero, "every Vfs handle was released");
        Assert.That(h.InodesAfterForgettingIdle(), Is.EqualTo(1), "every lookup reference was given back");
    }

    [Test]
    public async Task Overwrite_of_an_existing_file_replaces_its_bytes()
    {
        await using var h = new WinFsHarness(backend);
        await h.PutAsync("a.txt", "old contents that are long");
        var (status, ctx, info) = await h.CreateFileAsync(@"\a.txt", FileOverwriteIf, WinFsHarness.WriteAccess);
        Assert.That(status, Is.EqualTo(NtStatus.Success));
        Assert.That(info.FileSize, Is.Zero, "Overwrite answers the truncated size");
        await h.WriteAsync(ctx, 0, "new");
        await h.CloseHandleAsync(ctx);
        Assert.That(await h.GetTextAsync("a.txt"), Is.EqualTo("new"));
    }

    [Test]
    public async Task Notepad_save_through_a_temporary_name_and_rename_with_replace()
    {
        await using var h = new WinFsHarness(backend);
        await h.PutAsync("notes/todo.txt", "old text");

        var (created, tmp, _) = await h.CreateFileAsync(@"\notes\todo.txt.tmp", FileCreate, WinFsHarness.WriteAccess);
        Assert.That(created, Is.EqualTo(NtStatus.Success));
        Assert.That(await h.WriteAsync(tmp, 0, "new text, longer"), Is.EqualTo(NtStatus.Success));
        await h.CloseHandleAsync(tmp);
        Assert.That(await h.GetTextAsync("notes/todo.txt.tmp"), Is.EqualTo("new text, longer"));

        var (opened, ren, _) = await h.CreateFileAsync(@"\notes\todo.txt.tmp", FileOpen, WinFsHarness.DeleteAccess);
        Assert.That(opened, Is.EqualTo(NtStatus.Success));
        var refused = await h.Adapter.RenameAsync(ren, @"\notes\todo.txt.tmp", @"\notes\todo.txt", replaceIfExists: false);
        Assert.That(refused.Status, Is.EqualTo(NtStatus.ObjectNameCollision));
        Assert.That(await h.GetTextAsync("notes/todo.txt"), Is.EqualTo("old text"), "a refused rename changes nothing");
        var renamed = await h.Adapter.RenameAsync(ren, @"\notes\todo.txt.tmp", @"\notes\todo.txt", replaceIfExists: true);
        Assert.That(renamed.Status, Is.EqualTo(NtStatus.Success));
        await h.CloseHandleAsync(ren);

        Assert.That(await h.GetTextAsync("notes/todo.txt"), Is.EqualTo("new text, longer"));
        Assert.That(await h.HeadAsync("notes/todo.txt.tmp"), Is.Null);
        var (reopened, ctx, info) = await h.CreateFileAsync(@"\notes\todo.txt", FileOpen, WinFsHarness.ReadAccess);
        Assert.That(reopened, Is.EqualTo(NtStatus.Success));
        Assert.That(info.FileSize, Is.EqualTo(16UL));
        Assert.That((await h.ReadAsync(ctx, 0, 100)).Text, Is.EqualTo("new text, longer"));
        await h.CloseHandleAsync(ctx);
        Assert.That(h.Fs.OpenHandleCount, Is.Zero);
        Assert.That(h.InodesAfterForgettingIdle(), Is.EqualTo(1));
    }

    [Test]
    public async Task Rename_never_replaces_a_directory()
    {
        await using var h = new WinFsHarness(backend);
        await h.PutAsync("a.txt", "a");
        await h.PutAsync("d/inside.txt", "i");
        var (_, ctx, _) = await h.CreateFileAsync(@"\a.txt", FileOpen, WinFsHarness.DeleteAccess);
        Assert.That((await h.Adapter.RenameAsync(ctx, @"\a.txt", @"\d", true)).Status, Is.EqualTo(NtStatus.AccessDenied));
        Assert.That((await h.Adapter.RenameAsync(ctx, @"\a.txt", @"\nowhere\a.txt", true)).Status, Is.EqualTo(NtStatus.ObjectPathNotFound));
        await h.CloseHandleAsync(ctx);
        Assert.That(await h.GetTextAsync("a.txt"), Is.EqualTo("a"));
    }

    [Test]
    public async Task Delete_on_close_of_a_temporary_file_leaves_nothing_in_the_store()
    {
        await using var h = new WinFsHarness(backend);
        var (status, ctx, _) = await h.CreateFileAsync(@"\~scratch.tmp", FileCreate, WinFsHarness.WriteAccess | WinConstants.Delete, FileDeleteOnClose);
        Assert.That(status, Is.EqualTo(NtStatus.Success));
        await h.WriteAsync(ctx, 0, "scratch");
        await h.CloseHandleAsync(ctx, @"\~scratch.tmp", delete: true);
        Assert.That(await h.HeadAsync("~scratch.tmp"), Is.Null);
        Assert.That(h.Stats[RequestKind.Put], Is.Zero, "never uploaded");
        var (again, _, _) = await h.CreateFileAsync(@"\~scratch.tmp", FileOpen, WinFsHarness.ReadAccess);
        Assert.That(again, Is.EqualTo(NtStatus.ObjectNameNotFound));
    }

    [Test]
    public async Task DeleteFile_and_RemoveDirectory_go_through_SetDelete_and_Cleanup()
    {
        await using var h = new WinFsHarness(backend);
        await h.PutAsync("old.log", "bye");
        await h.PutAsync("full/one.txt", "1");
        var (_, f, _) = await h.CreateFileAsync(@"\old.log", FileOpen, WinFsHarness.DeleteAccess);
        Assert.That((await h.Adapter.SetDeleteAsync(f, @"\old.log", true)).Status, Is.EqualTo(NtStatus.Success));
        await h.CloseHandleAsync(f, @"\old.log", delete: true);
        Assert.That(await h.HeadAsync("old.log"), Is.Null);

        var (_, d, _) = await h.CreateFileAsync(@"\full", FileOpen, WinFsHarness.DeleteAccess, FileDirectoryFile);
        Assert.That((await h.Adapter.SetDeleteAsync(d, @"\full", true)).Status, Is.EqualTo(NtStatus.DirectoryNotEmpty));
        Assert.That((await h.Adapter.CanDeleteAsync(d, @"\full")).Status, Is.EqualTo(NtStatus.DirectoryNotEmpty));
        await h.CloseHandleAsync(d);
        Assert.That(await h.GetTextAsync("full/one.txt"), Is.EqualTo("1"));

        var (made, e, _) = await h.CreateFileAsync(@"\empty", FileCreate, WinFsHarness.ReadAccess, FileDirectoryFile);
        Assert.That(made, Is.EqualTo(NtStatus.Success));
        await h.CloseHandleAsync(e);
        Assert.That(await h.HeadAsync("empty/"), Is.Not.Null, "mkdir writes the marker");
        var (_, e2, _) = await h.CreateFileAsync(@"\empty", FileOpen, WinFsHarness.DeleteAccess, FileDirectoryFile);
        Assert.That((await h.Adapter.CanDeleteAsync(e2, @"\empty")).Status, Is.EqualTo(NtStatus.Success));
        await h.CloseHandleAsync(e2, @"\empty", delete: true);
        Assert.That(await h.HeadAsync("empty/"), Is.Null);
        Assert.That(h.InodesAfterForgettingIdle(), Is.EqualTo(1));
    }

    [Test]
    public async Task Listing_with_a_csv_pattern_pages_by_marker_without_skipping_or_repeating()
    {
        await using var h = new WinFsHarness(backend);
        var expected = new List<string>();
        for (int i = 0; i < 40; i++)
        {
            await h.PutAsync($"d/run-{i:D2}.csv", new string('x', i));
            expected.Add($"run-{i:D2}.csv");
            await h.PutAsync($"d/note-{i:D2}.txt", "n");
        }
        await h.PutAsync("d/sub/inner.csv", "i");

        // A buffer of 700 bytes holds a few records: the listing takes many pages, each resumed after the marker.
        var csv = await h.ListAsync(@"\d", "*.csv", bufferBytes: 700);
        Assert.That(csv.Status, Is.EqualTo(NtStatus.Success));
        Assert.That(csv.Entries.Select(e => e.Name), Is.EqualTo(expected));
        Assert.That(csv.Pages, Is.GreaterThan(5));
        Assert.That(csv.Entries.Single(e => e.Name == "run-07.csv").Info.FileSize, Is.EqualTo(7UL));

        var all = await h.ListAsync(@"\d", null, bufferBytes: 700);
        var names = all.Entries.Select(e => e.Name).ToList();
        Assert.That(names.Take(2), Is.EqualTo(new[] { ".", ".." }));
        Assert.That(names, Has.Count.EqualTo(2 + 80 + 1));
        Assert.That(names, Is.Unique);
        Assert.That(all.Entries.Single(e => e.Name == "sub").Info.FileAttributes & FileAttributeDirectory, Is.Not.Zero);

        var root = await h.ListAsync(@"\");
        Assert.That(root.Entries.Select(e => e.Name), Is.EqualTo(new[] { "d" }), "no . or .. in the root");
        var single = await h.ListAsync(@"\d", "run-0?.csv");
        Assert.That(single.Entries, Has.Count.EqualTo(10));
        Assert.That(h.Stats[RequestKind.Head], Is.Zero, "listings need no HEAD");
    }

    [Test]
    public async Task A_name_with_a_colon_round_trips_through_its_full_width_look_alike()
    {
        await using var h = new WinFsHarness(backend);
        await h.PutAsync("logs/12:30:00.txt", "at half past");
        await h.PutAsync("logs/CON.txt", "device name");
        var listed = await h.ListAsync(@"\logs");
        Assert.That(listed.Entries.Select(e => e.Name), Is.EquivalentTo(new[] { ".", "..", "12：30：00.txt", "ＣON.txt" }));

        var (status, ctx, info) = await h.CreateFileAsync(@"\logs\12：30：00.txt", FileOpen, WinFsHarness.ReadAccess);
        Assert.That(status, Is.EqualTo(NtStatus.Success));
        Assert.That(info.FileSize, Is.EqualTo(12UL));
        Assert.That((await h.ReadAsync(ctx, 0, 64)).Text, Is.EqualTo("at half past"));
        await h.CloseHandleAsync(ctx);

        var (made, w, _) = await h.CreateFileAsync(@"\logs\a？b：c.txt", FileCreate, WinFsHarness.WriteAccess);
        Assert.That(made, Is.EqualTo(NtStatus.Success));
        await h.WriteAsync(w, 0, "q");
        await h.CloseHandleAsync(w);
        Assert.That(await h.GetTextAsync("logs/a?b:c.txt"), Is.EqualTo("q"));
        var byName = await h.CreateFileAsync(@"\logs", FileOpen, WinFsHarness.ReadAccess, FileDirectoryFile);
        var dirInfo = await h.Adapter.GetDirInfoByNameAsync(byName.Context, "ＣON.txt");
        Assert.That(dirInfo.Status, Is.EqualTo(NtStatus.Success));
        Assert.That(dirInfo.Value.Name, Is.EqualTo("ＣON.txt"));
        Assert.That((await h.Adapter.GetDirInfoByNameAsync(byName.Context, "nope.txt")).Status, Is.EqualTo(NtStatus.ObjectNameNotFound));
        await h.CloseHandleAsync(byName.Context);
    }

    [Test]
    public async Task Answers_for_missing_names_wrong_kinds_and_the_end_of_a_file()
    {
        await using var h = new WinFsHarness(backend);
        await h.PutAsync("dir/f.txt", "abc");
        Assert.That((await h.CreateFileAsync(@"\nope.txt", FileOpen, WinFsHarness.ReadAccess)).Status, Is.EqualTo(NtStatus.ObjectNameNotFound));
        Assert.That((await h.CreateFileAsync(@"\nodir\f.txt", FileOpen, WinFsHarness.ReadAccess)).Status, Is.EqualTo(NtStatus.ObjectPathNotFound));
        Assert.That((await h.CreateFileAsync(@"\nodir\new.txt", FileCreate, WinFsHarness.WriteAccess)).Status, Is.EqualTo(NtStatus.ObjectPathNotFound));
        Assert.That((await h.CreateFileAsync(@"\dir\f.txt\x", FileOpen, WinFsHarness.ReadAccess)).Status, Is.EqualTo(NtStatus.ObjectPathNotFound));
        Assert.That((await h.CreateFileAsync(@"\dir", FileOpen, WinFsHarness.ReadAccess, FileNonDirectoryFile)).Status, Is.EqualTo(NtStatus.FileIsADirectory));
        Assert.That((await h.CreateFileAsync(@"\dir\f.txt", FileOpen, WinFsHarness.ReadAccess, FileDirectoryFile)).Status, Is.EqualTo(NtStatus.NotADirectory));
        Assert.That((await h.CreateFileAsync(@"\dir\f.txt", FileCreate, WinFsHarness.WriteAccess)).Status, Is.EqualTo(NtStatus.ObjectNameCollision));
        Assert.That((await h.CreateFileAsync(@"\dir", FileCreate, WinFsHarness.ReadAccess, FileDirectoryFile)).Status, Is.EqualTo(NtStatus.ObjectNameCollision));

        var (_, ctx, _) = await h.CreateFileAsync(@"\dir\f.txt", FileOpen, WinFsHarness.ReadAccess);
        Assert.That(await h.ReadAsync(ctx, 1, 10), Is.EqualTo((NtStatus.Success, "bc")));
        Assert.That((await h.ReadAsync(ctx, 3, 10)).Status, Is.EqualTo(NtStatus.EndOfFile));
        await h.CloseHandleAsync(ctx);
        Assert.That((await h.ReadAsync(ctx, 0, 10)).Status, Is.EqualTo(NtStatus.InvalidHandle), "a closed context is refused, not a crash");
        Assert.That((await h.Adapter.GetFileInfoAsync(12345)).Status, Is.EqualTo(NtStatus.InvalidHandle));
        Assert.That(h.InodesAfterForgettingIdle(), Is.EqualTo(1));
    }

    [Test]
    public async Task Security_descriptors_come_from_the_mount_and_report_their_size()
    {
        await using var h = new WinFsHarness(backend);
        await h.PutAsync("d/f", "1");
        var file = await h.Adapter.GetSecurityByNameAsync(@"\d\f");
        Assert.That(file.Value.Descriptor, Is.EqualTo(WinFsHarness.FileSd));
        Assert.That(file.Value.Attributes & FileAttributeArchive, Is.Not.Zero);
        var dir = await h.Adapter.GetSecurityByNameAsync(@"\d");
        Assert.That(dir.Value.Descriptor, Is.EqualTo(WinFsHarness.DirSd));
        Assert.That(dir.Value.Attributes, Is.EqualTo(FileAttributeDirectory));
        Assert.That(WinFsAdapter.CopyDescriptor(WinFsHarness.DirSd, new byte[3], out int needed), Is.EqualTo(NtStatus.BufferOverflow));
        Assert.That(needed, Is.EqualTo(WinFsHarness.DirSd.Length));
        var buffer = new byte[64];
        Assert.That(WinFsAdapter.CopyDescriptor(WinFsHarness.FileSd, buffer, out int size), Is.EqualTo(NtStatus.Success));
        Assert.That(buffer.AsSpan(0, size).ToArray(), Is.EqualTo(WinFsHarness.FileSd));
    }

    [Test]
    public async Task Append_writes_land_at_the_end_and_constrained_io_never_extends()
    {
        await using var h = new WinFsHarness(backend);
        await h.PutAsync("log.txt", "0123456789");
        var (_, ctx, _) = await h.CreateFileAsync(@"\log.txt", FileOpen, WinFsHarness.WriteAccess);
        var appended = await h.Adapter.WriteAsync(ctx, -1, Encoding.UTF8.GetBytes("ab"), toEnd: true, constrained: false);
        Assert.That(appended.Value.Info.FileSize, Is.EqualTo(12UL));
        var paging = await h.Adapter.WriteAsync(ctx, 10, Encoding.UTF8.GetBytes("XYZW"), toEnd: false, constrained: true);
        Assert.That(paging.Value.Written, Is.EqualTo(2), "only the bytes inside the file");
        Assert.That(paging.Value.Info.FileSize, Is.EqualTo(12UL));
        var past = await h.Adapter.WriteAsync(ctx, 20, Encoding.UTF8.GetBytes("Q"), toEnd: false, constrained: true);
        Assert.That(past.Value.Written, Is.Zero);
        await h.CloseHandleAsync(ctx);
        Assert.That(await h.GetTextAsync("log.txt"), Is.EqualTo("0123456789XY"));
    }

    [Test]
    public async Task A_read_only_mount_refuses_changes_as_write_protected()
    {
        await using var h = new WinFsHarness(backend, readOnly: true);
        await h.PutAsync("r.txt", "r");
        Assert.That((await h.CreateFileAsync(@"\new.txt", FileCreate, WinFsHarness.WriteAccess)).Status, Is.EqualTo(NtStatus.MediaWriteProtected));
        var (_, ctx, info) = await h.CreateFileAsync(@"\r.txt", FileOpen, WinFsHarness.ReadAccess);
        Assert.That(info.FileAttributes & FileAttributeReadOnly, Is.Not.Zero);
        Assert.That((await h.Adapter.SetDeleteAsync(ctx, @"\r.txt", true)).Status, Is.EqualTo(NtStatus.MediaWriteProtected));
        Assert.That((await h.ReadAsync(ctx, 0, 5)).Text, Is.EqualTo("r"));
        await h.CloseHandleAsync(ctx);
    }

    [Test]
    public async Task Flush_uploads_before_close_and_reports_the_file()
    {
        await using var h = new WinFsHarness(backend);
        var (_, ctx, _) = await h.CreateFileAsync(@"\f.bin", FileCreate, WinFsHarness.WriteAccess);
        await h.WriteAsync(ctx, 0, "flushed");
        var flushed = await h.Adapter.FlushAsync(ctx);
        Assert.That(flushed.Status, Is.EqualTo(NtStatus.Success));
        Assert.That(flushed.Value.FileSize, Is.EqualTo(7UL));
        Assert.That(await h.GetTextAsync("f.bin"), Is.EqualTo("flushed"));
        await h.CloseHandleAsync(ctx);
        Assert.That(h.Stats[RequestKind.Put], Is.EqualTo(1), "nothing new to upload at close");
        Assert.That((await h.Adapter.FlushAsync(0)).Status, Is.EqualTo(NtStatus.Success), "a volume flush");
    }
}

/// <summary>The last-write time Explorer sets is stored (mem://: file:// keeps no object metadata).</summary>
public sealed class WindowsPosixAttributeTests
{
    [Test]
    public async Task Explorer_copy_in_keeps_the_source_time_with_posix_attrs()
    {
        await using var h = new WinFsHarness("mem", posixAttributes: true);
        var (_, ctx, _) = await h.CreateFileAsync(@"\t.txt", FileOverwriteIf, WinFsHarness.WriteAccess);
        await h.WriteAsync(ctx, 0, "hello");
        var when = new DateTimeOffset(2021, 1, 2, 3, 4, 5, TimeSpan.Zero);
        await h.Adapter.SetBasicInfoAsync(ctx, 0, 0, 0, FileInfoMapper.ToFileTime(when), 0);
        await h.CloseHandleAsync(ctx);
        Assert.That(await h.GetTextAsync("t.txt"), Is.EqualTo("hello"));
        var head = await h.HeadAsync("t.txt");
        Assert.That(PosixMetadata.Parse(head!.Metadata).Mtime, Is.EqualTo(PosixTime.From(when)));
        var (s2, ctx2, info) = await h.CreateFileAsync(@"\t.txt", FileOpen, WinFsHarness.ReadAccess);
        Assert.That(s2, Is.EqualTo(NtStatus.Success));
        Assert.That(FileInfoMapper.FromFileTime(info.LastWriteTime), Is.EqualTo(when));
        await h.CloseHandleAsync(ctx2);
    }
}
