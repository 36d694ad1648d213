using System.Text.Json;
using Microsoft.Win32.SafeHandles;

namespace CloudMount.Core.Writing;

/// <summary>
/// The folder that holds staging files of one mount: <c>&lt;dir&gt;/&lt;id&gt;.data</c>, plus, for a file whose
/// upload failed, a sidecar <c>&lt;id&gt;.json</c> naming the store and key, so that the data can be found and
/// uploaded later (nothing is lost silently).
/// </summary>
public sealed class StagingArea
{
    /// <summary>Creates the folder if needed.</summary>
    /// <exception cref="IOException">The folder cannot be created.</exception>
    public StagingArea(string directory)
    {
        Directory = directory;
        System.IO.Directory.CreateDirectory(directory);
    }

    /// <summary>The folder.</summary>
    public string Directory { get; }

    /// <summary>Creates an empty staging file.</summary>
    public StagingFile Create() => new(Path.Combine(Directory, Guid.NewGuid().ToString("n") + ".data"));

    /// <summary>Removes the folder if nothing is left in it (called at unmount).</summary>
    public void RemoveIfEmpty()
    {
        try
        {
            if (System.IO.Directory.Exists(Directory) && !System.IO.Directory.EnumerateFileSystemEntries(Directory).Any())
            {
                System.IO.Directory.Delete(Directory);
            }
        }
        catch (IOException)
        {
            // Another mount may share the parent; leaving an empty folder is harmless.
        }
    }
}

/// <summary>
/// A local file holding the full content of a file being written: random writes, reads and truncation happen
/// here, and the whole file is uploaded on flush. Not thread-safe; <see cref="Vfs.CloudFileSystem"/> serialises
/// access per inode.
/// </summary>
public sealed class StagingFile : IDisposable
{
    private readonly SafeFileHandle _handle;

    internal StagingFile(string path)
    {
        Path = path;
        _handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read, FileOptions.None);
    }

    /// <summary>Where the bytes are.</summary>
    public string Path { get; }

    /// <summary>Current length in bytes.</summary>
    public long Length { get; private set; }

    /// <summary>Writes <paramref name="data"/> at <paramref name="offset"/>, extending the file as needed.</summary>
    public void Write(long offset, ReadOnlySpan<byte> data)
    {
        RandomAccess.Write(_handle, data, offset);
        Length = Math.Max(Length, offset + data.Length);
    }

    /// <summary>Writes asynchronously (used while filling the file from the store).</summary>
    public async ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        await RandomAccess.WriteAsync(_handle, data, offset, cancellationToken).ConfigureAwait(false);
        Length = Math.Max(Length, offset + data.Length);
    }

    /// <summary>Reads up to <c>destination.Length</c> bytes at <paramref name="offset"/>; 0 at the end.</summary>
    public int Read(long offset, Span<byte> destination)
    {
        if (offset >= Length) return 0;
        int want = (int)Math.Min(destination.Length, Length - offset);
        int total = 0;
        while (total < want)
        {
            int n = RandomAccess.Read(_handle, destination[total..want], offset + total);
            if (n == 0) break;
            total += n;
        }
        return total;
    }

    /// <summary>Sets the length, cutting or zero-extending.</summary>
    public void SetLength(long length)
    {
        RandomAccess.SetLength(_handle, length);
        Length = length;
    }

    /// <summary>Writes a sidecar that names the object this data belongs to, so a failed upload can be recovered.</summary>
    public void WriteSidecar(string store, string key, string reason)
    {
        string json = JsonSerializer.Serialize(new Dictionary<string, string>
        {
            ["store"] = store,
            ["key"] = key,
            ["reason"] = reason,
            ["time"] = DateTimeOffset.UtcNow.ToString("O"),
        });
        File.WriteAllText(System.IO.Path.ChangeExtension(Path, ".json"), json);
    }

    /// <summary>Closes the file; with <paramref name="delete"/>, removes it and its sidecar.</summary>
    public void Close(bool delete)
    {
        _handle.Dispose();
        if (delete)
        {
            File.Delete(Path);
            File.Delete(System.IO.Path.ChangeExtension(Path, ".json"));
        }
    }

    /// <summary>Closes the file and deletes it.</summary>
    public void Dispose() => Close(delete: true);
}
