using CloudMount.Core.Storage;
using Microsoft.Extensions.Logging;

namespace CloudMount.Core.Vfs;

public sealed partial class CloudFileSystem
{
    /// <summary>Removes a file: deletes its object (a file never uploaded is only dropped locally).</summary>
    /// <exception cref="FileSystemException">ReadOnly, NotFound, IsDirectory.</exception>
    public async ValueTask UnlinkAsync(ulong parent, string name, CancellationToken cancellationToken)
    {
        ThrowIfReadOnly();
        var dir = GetDirectory(parent);
        var child = await FindChildAsync(dir, name, cancellationToken).ConfigureAwait(false) ?? throw NotFound(name);
        if (child.IsDirectory)
        {
            throw new FileSystemException(FsError.IsDirectory, $"{name} is a directory");
        }
        bool localOnly;
        lock (_lock) localOnly = child.LocalOnly;
        if (!localOnly)
        {
            await _store.DeleteAsync(FileKey(child), cancellationToken).ConfigureAwait(false);
        }
        lock (_lock)
        {
            SetListingEntryLocked(dir, name, null);
            DetachLocked(child);
        }
    }

    /// <summary>
    /// Creates a symbolic link the way s3fs stores one: an object holding the target path, whose <c>mode</c>
    /// metadata is S_IFLNK|0777 (with <c>mtime</c>, <c>uid</c> and <c>gid</c> beside it), uploaded at once.
    /// </summary>
    /// <exception cref="FileSystemException">ReadOnly, Exists, NameTooLong, NotSupported (a store without metadata).</exception>
    public async ValueTask<EntryReply> SymlinkAsync(ulong parent, string name, string target, CancellationToken cancellationToken)
    {
        ThrowIfReadOnly();
        KeyNames.Validate(name);
        if (!_store.Capabilities.Metadata)
        {
            throw new FileSystemException(FsError.NotSupported, $"{_store.Name} keeps no object metadata, so it cannot mark an object as a symlink");
        }
        var dir = GetDirectory(parent);
        await ThrowIfExistsAsync(dir, name, cancellationToken).ConfigureAwait(false);
        string key = DirectoryPrefix(dir) + name;
        var meta = new Dictionary<string, string>(StringComparer.Ordinal);
        new PosixMetadata(_time.GetUtcNow(), PosixMetadata.SymlinkType | 0x1FF, _options.Uid, _options.Gid).WriteTo(meta);
        var options = new ObjectWriteOptions { ContentType = "application/octet-stream", Metadata = meta };
        var info = await _store.WriteAsync(key, ObjectContent.FromBytes(System.Text.Encoding.UTF8.GetBytes(target)), options, cancellationToken).ConfigureAwait(false);
        var head = info with { ContentType = options.ContentType, Metadata = meta };
        lock (_lock)
        {
            var entry = new ChildEntry(NodeKind.Symlink, info.Size, info.ETag, info.LastModified, head);
            var n = UpsertChildLocked(dir, name, entry);
            n.SymlinkTarget = target;
            SetListingEntryLocked(dir, name, entry);
            _meta.ClearMissing(key);
            return EntryLocked(n);
        }
    }

    /// <summary>The target of a symbolic link: the object's bytes (one GET, then remembered for its ETag).</summary>
    /// <exception cref="FileSystemException">InvalidArgument when the node is not a symlink.</exception>
    public async ValueTask<string> ReadLinkAsync(ulong ino, CancellationToken cancellationToken)
    {
        var n = GetInode(ino);
        string? etag;
        lock (_lock)
        {
            if (n.Kind != NodeKind.Symlink) throw new FileSystemException(FsError.InvalidArgument, $"{n.Name} is not a symlink");
            if (n.SymlinkTarget is { } known) return known;
            etag = n.ETag;
        }
        await using var r = await _store.ReadAsync(FileKey(n), new ByteRange(0, 4096), etag, cancellationToken).ConfigureAwait(false);
        using var buffer = new MemoryStream();
        await r.Content.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
        string target = System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
        lock (_lock)
        {
            if (n.ETag == etag) n.SymlinkTarget = target;
        }
        return target;
    }

    /// <summary>
    /// Renames a file: a server-side copy to the new key, then a delete of the old one (a file not yet uploaded
    /// only changes its name, and is uploaded under the new one). Renames a directory: every key under it is
    /// copied (server-side, in parallel) and only when all copies exist are the old keys deleted, so an
    /// interrupted rename leaves every object reachable under the old or the new name, never neither.
    /// </summary>
    /// <exception cref="FileSystemException">ReadOnly, NotFound, IsDirectory, NotDirectory, NotEmpty, Exists (NoReplace), InvalidArgument (Exchange, or a directory into itself), Io (a copy or delete failed).</exception>
    public async ValueTask RenameAsync(ulong parent, string name, ulong newParent, string newName, RenameFlags flags, CancellationToken cancellationToken)
    {
        ThrowIfReadOnly();
        KeyNames.Validate(newName);
        if ((flags & RenameFlags.Exchange) != 0)
        {
            throw new FileSystemException(FsError.InvalidArgument, "RENAME_EXCHANGE is not supported");
        }
        var fromDir = GetDirectory(parent);
        var toDir = GetDirectory(newParent);
        var source = await FindChildAsync(fromDir, name, cancellationToken).ConfigureAwait(false) ?? throw NotFound(name);
        if (source.IsDirectory)
        {
            await RenameDirectoryAsync(fromDir, name, source, toDir, newName, flags, cancellationToken).ConfigureAwait(false);
            return;
        }
        var target = await FindChildAsync(toDir, newName, cancellationToken).ConfigureAwait(false);
        if (target == source)
        {
            return;
        }
        if (target is not null)
        {
            if ((flags & RenameFlags.NoReplace) != 0) throw new FileSystemException(FsError.Exists, $"{newName} exists");
            if (target.IsDirectory) throw new FileSystemException(FsError.IsDirectory, $"{newName} is a directory");
        }

        var w = source.Write;
        if (w is not null) await w.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            bool localOnly, dirty;
            lock (_lock)
            {
                localOnly = source.LocalOnly;
                dirty = source.Write is { Dirty: true };
            }
            string oldKey = FileKey(source);
            string newKey = DirectoryPrefix(toDir) + newName;
            if (!localOnly)
            {
                if (!dirty)
                {
                    var copied = await _store.CopyAsync(oldKey, newKey, cancellationToken).ConfigureAwait(false);
                    lock (_lock)
                    {
                        source.ETag = copied.ETag;
                        source.Mtime = copied.LastModified;
                        source.Size = copied.Size;
                        source.Head = copied.Metadata is not null || copied.ContentType is not null ? copied : null;
                        if (source.Encoding is not null) source.EncodingETag = copied.ETag;
                    }
                }
                await _store.DeleteAsync(oldKey, cancellationToken).ConfigureAwait(false);
                if (dirty)
                {
                    lock (_lock) source.LocalOnly = true; // its bytes now live only in staging, until flush
                }
            }
            lock (_lock)
            {
                if (target is not null) DetachLocked(target);
                if (fromDir.Children?.TryGetValue(name, out var c) == true && c == source)
                {
                    fromDir.Children.Remove(name);
                }
                SetListingEntryLocked(fromDir, name, null);
                source.Parent = toDir;
                source.Name = newName;
                (toDir.Children ??= [])[newName] = source;
                var a = AttributesLocked(source);
                SetListingEntryLocked(toDir, newName, source.Write is null && !source.LocalOnly
                    ? new ChildEntry(source.Kind, source.Size, source.ETag, source.Mtime, source.Head, source.DecodedSize)
                    : new ChildEntry(source.Kind, a.Size, source.ETag, a.Mtime));
            }
            _logger.LogDebug("renamed {Old} to {New}", oldKey, newKey);
        }
        finally
        {
            w?.Gate.Release();
        }
    }

    private async Task RenameDirectoryAsync(Inode fromDir, string name, Inode source, Inode toDir, string newName, RenameFlags flags, CancellationToken ct)
    {
        lock (_lock)
        {
            for (var d = toDir; d is not null; d = d.Parent)
            {
                if (d == source) throw new FileSystemException(FsError.InvalidArgument, "cannot move a directory into itself");
            }
        }
        var target = await FindChildAsync(toDir, newName, ct).ConfigureAwait(false);
        if (target == source) return;
        string oldPrefix = DirectoryPrefix(source);
        string newPrefix = DirectoryPrefix(toDir) + newName + "/";
        if (target is not null)
        {
            if ((flags & RenameFlags.NoReplace) != 0) throw new FileSystemException(FsError.Exists, $"{newName} exists");
            if (!target.IsDirectory) throw new FileSystemException(FsError.NotDirectory, $"{newName} is not a directory");
            // POSIX: a directory may replace an empty one.
            var inside = await _store.ListAsync(new ListRequest(newPrefix, null, null, 2), ct).ConfigureAwait(false);
            bool hasLocal;
            lock (_lock) hasLocal = target.Children?.Values.Any(c => c.LocalOnly && !c.Detached) == true;
            if (hasLocal || inside.Objects.Any(o => o.Key != newPrefix) || inside.CommonPrefixes.Count > 0)
            {
                throw new FileSystemException(FsError.NotEmpty, $"{newName} is not empty");
            }
        }
        var keys = new List<string>();
        string? token = null;
        do
        {
            var page = await _store.ListAsync(new ListRequest(oldPrefix, null, token), ct).ConfigureAwait(false);
            keys.AddRange(page.Objects.Select(o => o.Key));
            token = page.NextPageToken;
        }
        while (token is not null);
        if (!_store.Capabilities.MarkerInOwnListing && !keys.Contains(oldPrefix)
            && await _store.HeadAsync(oldPrefix, ct).ConfigureAwait(false) is not null)
        {
            // The directory's own marker lives outside its prefix (Azure's hdi_isfolder blob): move it too.
            keys.Add(oldPrefix);
        }

        var copied = new System.Collections.Concurrent.ConcurrentBag<string>();
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = ct };
        try
        {
            await Parallel.ForEachAsync(keys, parallel, async (key, token2) =>
            {
                string to = newPrefix + key[oldPrefix.Length..];
                await _store.CopyAsync(key, to, token2).ConfigureAwait(false);
                copied.Add(to);
            }).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Every object is still under the old name; take back the partial copies.
            foreach (var to in copied)
            {
                try { await _store.DeleteAsync(to, CancellationToken.None).ConfigureAwait(false); }
                catch (Exception) { /* a duplicate under the new name is harmless */ }
            }
            throw new FileSystemException(FsError.Io, $"renaming {name}: {e.Message}", e);
        }
        try
        {
            await Parallel.ForEachAsync(keys, parallel, async (key, token2) => await _store.DeleteAsync(key, token2).ConfigureAwait(false)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _logger.LogWarning("renamed {Old} to {New}, but some old keys remain (they are also under the new name): {Error}", oldPrefix, newPrefix, e.Message);
            throw new FileSystemException(FsError.Io, $"renaming {name}: {e.Message}", e);
        }
        lock (_lock)
        {
            if (target is not null) DetachLocked(target);
            if (fromDir.Children?.TryGetValue(name, out var c) == true && c == source)
            {
                fromDir.Children.Remove(name);
            }
            _meta.InvalidatePrefix(oldPrefix);
            _meta.InvalidatePrefix(newPrefix);
            SetListingEntryLocked(fromDir, name, null);
            source.Parent = toDir;
            source.Name = newName;
            (toDir.Children ??= [])[newName] = source;
            _meta.UpdateListingEntry(DirectoryPrefixLocked(toDir), newName, new ChildEntry(NodeKind.Directory, 0, null, _mountTime));
            _meta.ClearMissing(DirectoryPrefixLocked(toDir) + newName);
        }
        _logger.LogDebug("renamed directory {Old} to {New}: {Count} keys", oldPrefix, newPrefix, keys.Count);
    }
}
