using Microsoft.Win32.SafeHandles;

namespace CloudMount.Core.Storage.LocalFs;

/// <summary>
/// A directory tree as an object store (<c>file:///path</c>). Keys are paths relative to the root with
/// <c>/</c> separators. As on S3, a directory with contents is an implicit prefix, and an empty directory is
/// a zero-byte marker <c>dir/</c> (writing a marker makes a directory; deleting it removes an empty one).
/// Unlike S3, deleting the last key in a directory leaves the directory, which then lists as a marker. Writes go to a
/// temporary file under <c>.cloudmount-tmp/</c> in the root and are renamed into place, so a reader never sees
/// a half-written object. ETags are <c>"size-mtime"</c> (weak, not MD5), which still change on every write.
/// </summary>
/// <remarks>
/// Keys that cannot be paths (empty, <c>.</c> or <c>..</c> segments, NUL) are rejected with an
/// <see cref="ObjectStoreException"/>. A key cannot be both a file and a prefix here, as on any filesystem.
/// User metadata, Content-Type and Content-Encoding are not stored.
/// </remarks>
public sealed class LocalFsObjectStore : IObjectStore
{
    /// <summary>Name of the folder in the root that holds uploads in progress; never listed.</summary>
    public const string TempFolderName = ".cloudmount-tmp";

    private readonly string _root;

    /// <summary>
    /// Open stores by <see cref="Name"/>, so a reader holding only a decorated store (retries, counting) can find
    /// the directory behind it and read files where they are (<see cref="OpenVersion"/>). Bound: one entry per
    /// distinct root opened in the process, held weakly.
    /// </summary>
    private static readonly Dictionary<string, WeakReference<LocalFsObjectStore>> Open = [];   // guarded by itself

    /// <summary>Opens a store over an existing directory.</summary>
    /// <exception cref="BucketNotFoundException">The directory does not exist.</exception>
    public LocalFsObjectStore(string rootDirectory)
    {
        _root = Path.GetFullPath(rootDirectory).TrimEnd('/');
        if (_root.Length == 0)
        {
            _root = "/";
        }
        if (!Directory.Exists(_root))
        {
            throw new BucketNotFoundException(_root);
        }
        Name = $"file://{_root}";
        lock (Open) Open[Name] = new WeakReference<LocalFsObjectStore>(this);
    }

    /// <summary>The open local store named <paramref name="storeName"/> (a <see cref="IObjectStore.Name"/>), or <c>null</c>.</summary>
    public static LocalFsObjectStore? Find(string storeName)
    {
        if (!storeName.StartsWith("file://", StringComparison.Ordinal)) return null;
        lock (Open) return Open.TryGetValue(storeName, out var w) && w.TryGetTarget(out var s) ? s : null;
    }

    /// <summary>
    /// Opens the file of <paramref name="key"/> for reading in place, pinned to a version: the handle keeps reading
    /// the bytes it opened even when a write replaces the file (writes rename a new file into place).
    /// </summary>
    /// <param name="key">The object's key.</param>
    /// <param name="ifMatch">The ETag the file must have, or <c>null</c>.</param>
    /// <returns>A handle for positional reads (<see cref="RandomAccess"/>), owned by the caller.</returns>
    /// <exception cref="ObjectNotFoundException">No such file.</exception>
    /// <exception cref="PreconditionFailedException">The file's ETag is no longer <paramref name="ifMatch"/>.</exception>
    /// <exception cref="AccessDeniedException">The file cannot be read.</exception>
    public SafeFileHandle OpenVersion(string key, string? ifMatch)
    {
        string path = PathOf(key);
        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ObjectNotFoundException(key, e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new AccessDeniedException($"permission denied reading {path}", e);
        }
        if (ifMatch is not null && MakeETag(RandomAccess.GetLength(handle), File.GetLastWriteTimeUtc(handle)) != ifMatch)
        {
            handle.Dispose();
            throw new PreconditionFailedException(key, ifMatch);
        }
        return handle;
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public StoreCapabilities Capabilities { get; } = new() { Md5ETags = false, Metadata = false, RealFolders = true };

    private string PathOf(string key, bool allowMarker = false)
    {
        string k = key;
        if (allowMarker && k.EndsWith('/'))
        {
            k = k[..^1];
        }
        if (k.Length == 0 || k.Contains('\0'))
        {
            throw new ObjectStoreException($"key '{key}' cannot be stored in a local directory");
        }
        foreach (var seg in k.Split('/'))
        {
            if (seg.Length == 0 || seg == "." || seg == "..")
            {
                throw new ObjectStoreException($"key '{key}' cannot be stored in a local directory (empty, '.' or '..' segment)");
            }
        }
        if (k == TempFolderName || k.StartsWith(TempFolderName + "/", StringComparison.Ordinal))
        {
            throw new ObjectStoreException($"key '{key}' is reserved for uploads in progress");
        }
        return _root == "/" ? "/" + k : _root + "/" + k;
    }

    private static string MakeETag(long size, DateTime mtimeUtc) => $"\"{size:x}-{mtimeUtc.Ticks:x}\"";

    private static ObjectInfo FileInfoOf(string key, FileInfo fi) =>
        new(key, fi.Length, MakeETag(fi.Length, fi.LastWriteTimeUtc), fi.LastWriteTimeUtc);

    /// <inheritdoc/>
    public Task<ListPage> ListAsync(ListRequest request, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(_root))
        {
            throw new BucketNotFoundException(_root);
        }
        // Start the walk at the deepest directory the prefix names.
        int slash = request.Prefix.LastIndexOf('/');
        string baseKey = slash >= 0 ? request.Prefix[..(slash + 1)] : "";
        string baseDir = baseKey.Length == 0 ? _root : _root + "/" + baseKey.TrimEnd('/');
        IEnumerable<ObjectInfo> walk = Directory.Exists(baseDir) && !IsUnsafeBase(baseKey)
            ? Walk(baseDir, baseKey, recursive: request.Delimiter != "/", cancellationToken)
            : [];
        if (baseKey.Length > 0 && Directory.Exists(baseDir) && !IsUnsafeBase(baseKey) && IsEmptyDirectory(baseDir))
        {
            // An empty directory is its own marker, which sorts before everything inside it, as on S3.
            var mtime = Directory.GetLastWriteTimeUtc(baseDir);
            walk = walk.Prepend(new ObjectInfo(baseKey, 0, MakeETag(0, mtime), mtime));
        }
        return Task.FromResult(ListingBuilder.Build(walk, request));
    }

    private static bool IsUnsafeBase(string baseKey) =>
        baseKey.Split('/', StringSplitOptions.None).SkipLast(1).Any(s => s.Length == 0 || s == "." || s == "..");

    /// <summary>
    /// Yields keys under <paramref name="dir"/> in byte order, each directory as its marker <c>name/</c>
    /// followed, when <paramref name="recursive"/>, by its contents.
    /// </summary>
    private IEnumerable<ObjectInfo> Walk(string dir, string keyPrefix, bool recursive, CancellationToken ct)
    {
        var entries = new List<(string SortKey, FileSystemInfo Info)>();
        var di = new DirectoryInfo(dir);
        foreach (var fsi in di.EnumerateFileSystemInfos())
        {
            if (keyPrefix.Length == 0 && fsi.Name == TempFolderName)
            {
                continue;
            }
            bool isDir = fsi is DirectoryInfo || (fsi.Attributes & FileAttributes.Directory) != 0;
            entries.Add((isDir ? fsi.Name + "/" : fsi.Name, fsi));
        }
        entries.Sort((a, b) => KeyComparer.Instance.Compare(a.SortKey, b.SortKey));
        foreach (var (sortKey, info) in entries)
        {
            ct.ThrowIfCancellationRequested();
            string key = keyPrefix + sortKey;
            if (sortKey.EndsWith('/'))
            {
                if (IsEmptyDirectory(info.FullName))
                {
                    yield return new ObjectInfo(key, 0, MakeETag(0, info.LastWriteTimeUtc), info.LastWriteTimeUtc);
                }
                else if (recursive)
                {
                    foreach (var child in Walk(info.FullName, key, recursive, ct))
                    {
                        yield return child;
                    }
                }
                else
                {
                    // One stand-in key inside makes the builder emit the common prefix `key`; it is never returned.
                    yield return new ObjectInfo(key + "\uFFFF", 0, null, info.LastWriteTimeUtc);
                }
            }
            else if (info is FileInfo fi)
            {
                yield return FileInfoOf(key, fi);
            }
        }
    }

    private static bool IsEmptyDirectory(string path) => !Directory.EnumerateFileSystemEntries(path).Any();

    /// <inheritdoc/>
    public Task<ObjectInfo?> HeadAsync(string key, CancellationToken cancellationToken)
    {
        string path = PathOf(key, allowMarker: true);
        if (key.EndsWith('/'))
        {
            var di = new DirectoryInfo(path);
            return Task.FromResult(di.Exists && IsEmptyDirectory(path) ? new ObjectInfo(key, 0, MakeETag(0, di.LastWriteTimeUtc), di.LastWriteTimeUtc) : null);
        }
        var fi = new FileInfo(path);
        return Task.FromResult(fi.Exists ? FileInfoOf(key, fi) : null);
    }

    /// <inheritdoc/>
    public Task<ObjectReadResult> ReadAsync(string key, ByteRange range, string? ifMatch, CancellationToken cancellationToken)
    {
        string path = PathOf(key, allowMarker: true);
        if (key.EndsWith('/'))
        {
            var di = new DirectoryInfo(path);
            if (!di.Exists)
            {
                throw new ObjectNotFoundException(key);
            }
            var marker = new ObjectInfo(key, 0, MakeETag(0, di.LastWriteTimeUtc), di.LastWriteTimeUtc);
            return Task.FromResult(new ObjectReadResult(Stream.Null, marker, new ByteRange(0, 0)));
        }
        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, FileOptions.Asynchronous);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException)
        {
            throw e is UnauthorizedAccessException && Directory.Exists(path)
                ? new ObjectNotFoundException(key, e)
                : e is UnauthorizedAccessException ? new AccessDeniedException($"permission denied reading {path}", e) : new ObjectNotFoundException(key, e);
        }
        long size = RandomAccess.GetLength(handle);
        var info = new ObjectInfo(key, size, MakeETag(size, File.GetLastWriteTimeUtc(handle)), File.GetLastWriteTimeUtc(handle));
        if (ifMatch is not null && ifMatch != info.ETag)
        {
            handle.Dispose();
            throw new PreconditionFailedException(key, ifMatch);
        }
        var r = range.ClampTo(size);
        var fs = new FileStream(handle, FileAccess.Read, bufferSize: 0, isAsync: true);
        return Task.FromResult(new ObjectReadResult(new SubStream(fs, r.Offset, r.Length!.Value), info, r));
    }

    /// <inheritdoc/>
    public async Task<ObjectInfo> WriteAsync(string key, ObjectContent content, ObjectWriteOptions options, CancellationToken cancellationToken)
    {
        string path = PathOf(key, allowMarker: true);
        if (key.EndsWith('/'))
        {
            CreateDirectory(path, key);
            var di = new DirectoryInfo(path);
            return new ObjectInfo(key, 0, MakeETag(0, di.LastWriteTimeUtc), di.LastWriteTimeUtc);
        }
        string tmpDir = Path.Combine(_root, TempFolderName);
        Directory.CreateDirectory(tmpDir);
        string tmp = Path.Combine(tmpDir, Guid.NewGuid().ToString("n"));
        try
        {
            await using (var src = content.OpenRead())
            await using (var dst = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0, FileOptions.Asynchronous))
            {
                await src.CopyToAsync(dst, 1 << 20, cancellationToken).ConfigureAwait(false);
            }
            if (options.ContentMd5 is { } md5)
            {
                await using var check = File.OpenRead(tmp);
                byte[] actual = await System.Security.Cryptography.MD5.HashDataAsync(check, cancellationToken).ConfigureAwait(false);
                if (!actual.AsSpan().SequenceEqual(md5))
                {
                    throw new ChecksumMismatchException($"Content-MD5 mismatch writing {key}");
                }
            }
            CreateDirectory(Path.GetDirectoryName(path)!, key);
            if (Directory.Exists(path))
            {
                throw new ObjectStoreException($"cannot write {key}: a directory of that name exists in {_root}");
            }
            File.Move(tmp, path, overwrite: true);
        }
        finally
        {
            File.Delete(tmp);
        }
        return FileInfoOf(key, new FileInfo(path));
    }

    private void CreateDirectory(string path, string key)
    {
        try
        {
            Directory.CreateDirectory(path);
        }
        catch (IOException e)
        {
            throw new ObjectStoreException($"cannot write {key}: a file stands where a directory of its path should be", e);
        }
    }

    /// <inheritdoc/>
    public Task DeleteAsync(string key, CancellationToken cancellationToken)
    {
        string path = PathOf(key, allowMarker: true);
        if (key.EndsWith('/'))
        {
            if (Directory.Exists(path) && !Directory.EnumerateFileSystemEntries(path).Any())
            {
                Directory.Delete(path);
            }
        }
        else if (File.Exists(path))
        {
            File.Delete(path);
        }
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public async Task<ObjectInfo> CopyAsync(string sourceKey, string destinationKey, CancellationToken cancellationToken)
    {
        string src = PathOf(sourceKey, allowMarker: true);
        if (sourceKey.EndsWith('/'))
        {
            // A directory's marker is the folder itself: the copy is a folder of the new name.
            if (!Directory.Exists(src)) throw new ObjectNotFoundException(sourceKey);
            return await WriteAsync(destinationKey, ObjectContent.FromBytes(ReadOnlyMemory<byte>.Empty), ObjectWriteOptions.Default, cancellationToken).ConfigureAwait(false);
        }
        if (!File.Exists(src))
        {
            throw new ObjectNotFoundException(sourceKey);
        }
        return await WriteAsync(destinationKey, ObjectContent.FromFile(src), ObjectWriteOptions.Default, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
