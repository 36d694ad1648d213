using System.Text.Json;
using Microsoft.Win32.SafeHandles;

namespace CloudMount.Core.Writing;

/// <summary>
/// The folder that holds staging files of one mount: <c>&lt;dir&gt;/&lt;id&gt;.data</c>, plus, for a file whose
/// upload failed, a sidecar <c>&lt;id&gt;.json</c> naming the store and key, so that the data can be found and
/// uploaded later (nothing is lost silently). The mount holds an exclusive lock on <c>&lt;dir&gt;/.lock</c> while it
/// runs, so <see cref="WriteBackRecovery"/> in another mount leaves its files alone.
/// </summary>
public sealed class StagingArea : IDisposable
{
    /// <summary>Name of the lock file a live mount holds in its staging folder.</summary>
    public const string LockFileName = ".lock";

    private readonly FileStream _lock;

    /// <summary>Creates the folder if needed and locks it.</summary>
    /// <exception cref="IOException">The folder cannot be created or is locked by another process.</exception>
    public StagingArea(string directory)
    {
        Directory = directory;
        System.IO.Directory.CreateDirectory(directory);
        _lock = new FileStream(Path.Combine(directory, LockFileName), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
    }

    /// <summary>The folder.</summary>
    public string Directory { get; }

    /// <summary>Creates an empty staging file.</summary>
    public StagingFile Create() => new(Path.Combine(Directory, Guid.NewGuid().ToString("n") + ".data"));

    /// <summary>Unlocks the folder and removes it if nothing but the lock is left (called at unmount).</summary>
    public void Dispose()
    {
        _lock.Dispose();
        try
        {
            if (System.IO.Directory.Exists(Directory) && System.IO.Directory.EnumerateFileSystemEntries(Directory).All(f => Path.GetFileName(f) == LockFileName))
            {
                System.IO.Directory.Delete(Directory, recursive: true);
            }
        }
        catch (IOException)
        {
            // Leaving an empty folder is harmless.
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
    /// <param name="store">The store's name, for example <c>s3://bucket</c>.</param>
    /// <param name="key">The key the data belongs to.</param>
    /// <param name="reason">Why it is not uploaded.</param>
    /// <param name="baseETag">The ETag of the object the changes started from (<c>null</c> for a new file), to detect conflicting writes at recovery.</param>
    public void WriteSidecar(string store, string key, string reason, string? baseETag)
    {
        string json = JsonSerializer.Serialize(new PendingUpload(store, key, reason, DateTimeOffset.UtcNow, baseETag), Util.CoreJsonContext.Default.PendingUpload);
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

/// <summary>The sidecar of a staged file that could not be uploaded.</summary>
/// <param name="Store">The store's name.</param>
/// <param name="Key">The key the data belongs to.</param>
/// <param name="Reason">Why it was not uploaded.</param>
/// <param name="Time">When the upload failed.</param>
/// <param name="BaseETag">ETag of the object the changes started from, or <c>null</c> for a new file.</param>
public sealed record PendingUpload(
    [property: System.Text.Json.Serialization.JsonPropertyName("store")] string Store,
    [property: System.Text.Json.Serialization.JsonPropertyName("key")] string Key,
    [property: System.Text.Json.Serialization.JsonPropertyName("reason")] string Reason,
    [property: System.Text.Json.Serialization.JsonPropertyName("time")] DateTimeOffset Time,
    [property: System.Text.Json.Serialization.JsonPropertyName("baseETag")] string? BaseETag);
