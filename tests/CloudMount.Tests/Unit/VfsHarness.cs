using System.Text;
using CloudMount.Core.Storage;
using CloudMount.Core.Storage.Decorators;
using CloudMount.Core.Storage.Memory;
using CloudMount.Core.Vfs;
using CloudMount.Tests.Support;

namespace CloudMount.Tests.Unit;

/// <summary>A CloudFileSystem over mem:// with counted requests, a manual clock and a failure hook.</summary>
public sealed class VfsHarness : IAsyncDisposable
{
    public MemoryObjectStore Backend { get; } = new("unit", minPartBytes: 1 << 20);
    public RequestStats Stats { get; } = new();
    public FaultyObjectStore Faults { get; }
    public ManualClock Clock { get; } = new();
    public CloudFileSystem Fs { get; }
    public string Staging { get; } = Paths.NewDir("staging");

    public VfsHarness(string rootPrefix = "", bool readOnly = false)
    {
        Faults = new FaultyObjectStore(new CountingObjectStore(Backend, Stats));
        Fs = new CloudFileSystem(Faults, new VfsOptions
        {
            RootPrefix = rootPrefix,
            ReadOnly = readOnly,
            StagingDirectory = Staging,
            MetadataTtl = TimeSpan.FromSeconds(5),
            NegativeTtl = TimeSpan.FromSeconds(5),
            Upload = new CloudMount.Core.Writing.UploadOptions(PartBytes: 1 << 20, Concurrency: 2, ThresholdBytes: 2 << 20),
        }, time: Clock);
    }

    public Task PutAsync(string key, string text) => PutAsync(key, Encoding.UTF8.GetBytes(text));

    public Task PutAsync(string key, byte[] data) =>
        Backend.WriteAsync(key, ObjectContent.FromBytes(data), ObjectWriteOptions.Default, CancellationToken.None);

    public async Task<string?> GetTextAsync(string key)
    {
        if (await Backend.HeadAsync(key, CancellationToken.None) is null) return null;
        await using var r = await Backend.ReadAsync(key, ByteRange.All, null, CancellationToken.None);
        return await new StreamReader(r.Content).ReadToEndAsync();
    }

    public long Requests(RequestKind kind) => Stats[kind];

    /// <summary>Looks up a path from the root, one component at a time.</summary>
    public async Task<EntryReply> WalkAsync(string path)
    {
        ulong ino = CloudFileSystem.RootIno;
        EntryReply e = default;
        foreach (var part in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            e = await Fs.LookupAsync(ino, part, CancellationToken.None);
            ino = e.Attributes.Ino;
        }
        return e;
    }

    /// <summary>readdirplus of a directory, all entries.</summary>
    public async Task<List<DirectoryEntry>> ListAsync(ulong ino, bool plus = true)
    {
        ulong fh = Fs.OpenDir(ino);
        var all = new List<DirectoryEntry>();
        long offset = 0;
        while (true)
        {
            var batch = new List<DirectoryEntry>();
            await Fs.ReadDirAsync(ino, fh, offset, plus, (in DirectoryEntry e) =>
            {
                if (batch.Count == 50) return false;
                batch.Add(e);
                return true;
            }, CancellationToken.None);
            if (batch.Count == 0) break;
            all.AddRange(batch);
            offset = batch[^1].NextOffset;
        }
        Fs.ReleaseDir(fh);
        return all;
    }

    public async Task<byte[]> ReadFileAsync(ulong ino, int chunk = 128 * 1024)
    {
        var open = await Fs.OpenAsync(ino, OpenFlags.Read, CancellationToken.None);
        using var ms = new MemoryStream();
        var buf = new byte[chunk];
        long off = 0;
        int n;
        while ((n = await Fs.ReadAsync(open.Handle, off, buf, CancellationToken.None)) > 0)
        {
            ms.Write(buf, 0, n);
            off += n;
        }
        await Fs.FlushAsync(open.Handle, CancellationToken.None);
        await Fs.ReleaseAsync(open.Handle);
        return ms.ToArray();
    }

    public async ValueTask DisposeAsync()
    {
        await Fs.DisposeAsync();
    }
}
