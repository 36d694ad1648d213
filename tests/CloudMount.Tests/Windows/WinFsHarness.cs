using System.Text;
using CloudMount.Core.Storage;
using CloudMount.Core.Storage.Decorators;
using CloudMount.Core.Storage.LocalFs;
using CloudMount.Core.Storage.Memory;
using CloudMount.Core.Vfs;
using CloudMount.Tests.Support;
using CloudMount.Windows;
using CloudMount.Windows.Interop;

namespace CloudMount.Tests.Windows;

/// <summary>
/// The host double: a <see cref="WinFsAdapter"/> over a real mem:// or file:// store, driven the way WinFsp's
/// DLL drives a file system (src/dll/fsop.c: FspFileSystemOpCreate's dispositions call GetSecurityByName, then
/// Create or Open, then Overwrite), with the answers' NTSTATUS and data returned as WinFsp would see them.
/// </summary>
internal sealed class WinFsHarness : IAsyncDisposable
{
    public const uint ReadAccess = WinConstants.FileReadData | WinConstants.FileReadAttributes;
    public const uint WriteAccess = ReadAccess | WinConstants.FileWriteData | WinConstants.FileAppendData | WinConstants.FileWriteAttributes;
    public const uint DeleteAccess = WinConstants.Delete | WinConstants.FileReadAttributes;

    public static readonly byte[] FileSd = [1, 0, 4, 0x80, 0xF1];
    public static readonly byte[] DirSd = [1, 0, 4, 0x80, 0xD1, 0xD2];

    private readonly IObjectStore _backend;

    public WinFsHarness(string backend, bool posixAttributes = false, bool readOnly = false, TimeSpan? ttl = null)
    {
        _backend = backend == "file" ? new LocalFsObjectStore(Paths.NewDir("winfs-store")) : new MemoryObjectStore("winfs", minPartBytes: 1 << 20);
        Store = new CountingObjectStore(_backend, Stats);
        Fs = new CloudFileSystem(Store, new VfsOptions
        {
            ReadOnly = readOnly,
            StagingDirectory = Paths.NewDir("winfs-staging"),
            MetadataTtl = ttl ?? TimeSpan.FromSeconds(5),
            NegativeTtl = ttl ?? TimeSpan.FromSeconds(5),
            PosixAttributes = posixAttributes,
        });
        Adapter = new WinFsAdapter(Fs, new WinFsOptions { Security = new SecurityDescriptors(FileSd, DirSd), VolumeLabel = "test" });
    }

    public RequestStats Stats { get; } = new();
    public IObjectStore Store { get; }
    public CloudFileSystem Fs { get; }
    internal WinFsAdapter Adapter { get; }

    public Task PutAsync(string key, string text) =>
        _backend.WriteAsync(key, ObjectContent.FromBytes(Encoding.UTF8.GetBytes(text)), ObjectWriteOptions.Default, CancellationToken.None);

    public async Task<byte[]?> GetAsync(string key)
    {
        if (await _backend.HeadAsync(key, CancellationToken.None) is null) return null;
        await using var r = await _backend.ReadAsync(key, ByteRange.All, null, CancellationToken.None);
        using var m = new MemoryStream();
        await r.Content.CopyToAsync(m);
        return m.ToArray();
    }

    public async Task<string?> GetTextAsync(string key) => await GetAsync(key) is { } b ? Encoding.UTF8.GetString(b) : null;

    public Task<ObjectInfo?> HeadAsync(string key) => _backend.HeadAsync(key, CancellationToken.None);

    /// <summary>
    /// CreateFile as WinFsp's DLL serves it (fsop.c FspFileSystemOpCreate): the access check (GetSecurityByName
    /// of the name, or of its parent for a new name), then Create or Open, and Overwrite for FILE_OVERWRITE(_IF)
    /// and FILE_SUPERSEDE of an existing file.
    /// </summary>
    public async Task<(int Status, ulong Context, FspFileInfo Info)> CreateFileAsync(string path, uint disposition, uint access, uint options = 0)
    {
        uint createOptions = (disposition << 24) | options;
        var exists = await Adapter.GetSecurityByNameAsync(path);
        if (disposition == WinConstants.FileCreate)
        {
            var parent = await Adapter.GetSecurityByNameAsync(Parent(path));
            if (!parent.Ok) return (parent.Status == NtStatus.ObjectNameNotFound ? NtStatus.ObjectPathNotFound : parent.Status, 0, default);
            var created = await Adapter.CreateAsync(path, createOptions, access, 0, 0);
            return (created.Status, created.Value.Context, created.Value.Info);
        }
        if (!exists.Ok && exists.Status != NtStatus.ObjectNameNotFound) return (exists.Status, 0, default);
        if (!exists.Ok)
        {
            if (disposition is WinConstants.FileOpen or WinConstants.FileOverwrite) return (exists.Status, 0, default);
            var created = await Adapter.CreateAsync(path, createOptions, access, 0, 0);
            return (created.Status, created.Value.Context, created.Value.Info);
        }
        var opened = await Adapter.OpenAsync(path, createOptions, access);
        if (!opened.Ok) return (opened.Status, 0, default);
        if (disposition is WinConstants.FileOverwrite or WinConstants.FileOverwriteIf or WinConstants.FileSupersede)
        {
            var over = await Adapter.OverwriteAsync(opened.Value.Context, 0, disposition == WinConstants.FileSupersede, 0);
            if (!over.Ok)
            {
                await Adapter.Close(opened.Value.Context);
                return (over.Status, 0, default);
            }
            return (NtStatus.Success, opened.Value.Context, over.Value);
        }
        return (NtStatus.Success, opened.Value.Context, opened.Value.Info);
    }

    private static string Parent(string path)
    {
        int cut = path.TrimEnd('\\').LastIndexOf('\\');
        return cut <= 0 ? "\\" : path[..cut];
    }

    /// <summary>CloseHandle: Cleanup (with the delete flag when asked), then Close; waits for the work they start.</summary>
    public async Task CloseHandleAsync(ulong context, string? path = null, bool delete = false)
    {
        await Adapter.Cleanup(context, delete ? path : null, delete ? FspCleanupFlags.Delete : 0);
        await Adapter.Close(context);
        await Adapter.DrainAsync();
    }

    public async Task<int> WriteAsync(ulong context, long offset, string text)
    {
        var r = await Adapter.WriteAsync(context, offset, Encoding.UTF8.GetBytes(text), false, false);
        return r.Status;
    }

    public async Task<(int Status, string Text)> ReadAsync(ulong context, long offset, int length)
    {
        var buffer = new byte[length];
        var r = await Adapter.ReadAsync(context, offset, buffer);
        return (r.Status, r.Ok ? Encoding.UTF8.GetString(buffer, 0, r.Value) : "");
    }

    /// <summary>
    /// FindFirstFile/FindNextFile over a directory: ReadDirectory with the pattern, a buffer of
    /// <paramref name="bufferBytes"/>, and the last name of each page as the next marker (what the FSD does),
    /// until the end marker. Returns every name and how many pages it took.
    /// </summary>
    public async Task<(int Status, List<(string Name, FspFileInfo Info)> Entries, int Pages)> ListAsync(string dir, string? pattern = null, int bufferBytes = 4096)
    {
        var (status, context, _) = await CreateFileAsync(dir, WinConstants.FileOpen, ReadAccess, WinConstants.FileDirectoryFile);
        if (status < 0) return (status, [], 0);
        try
        {
            var all = new List<(string, FspFileInfo)>();
            string? marker = null;
            for (int pages = 1; pages < 10000; pages++)
            {
                var buffer = new byte[bufferBytes];
                var r = await Adapter.ReadDirectoryAsync(context, pattern, marker, buffer);
                if (!r.Ok) return (r.Status, all, pages);
                var (entries, end) = DirInfoBuffer.Parse(buffer.AsSpan(0, r.Value));
                all.AddRange(entries);
                if (end) return (NtStatus.Success, all, pages);
                if (entries.Count == 0) throw new InvalidOperationException("a page with no entry and no end marker");
                marker = entries[^1].Name;
            }
            throw new InvalidOperationException("listing did not end");
        }
        finally
        {
            await CloseHandleAsync(context);
        }
    }

    /// <summary>Forgets the path cache and returns the Vfs's inode count (1: only the root is left, every lookup was balanced).</summary>
    public int InodesAfterForgettingIdle()
    {
        Adapter.Nodes.ForgetIdle();
        return Fs.InodeCount;
    }

    public async ValueTask DisposeAsync()
    {
        await Adapter.DrainAsync();
        await Fs.DisposeAsync();
    }
}
