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
    /// Renames a file: a server-side copy to the new key, then a delete of the old one (a file not yet uploaded
    /// only changes its name, and is uploaded under the new one). Renaming a directory returns CrossDevice
    /// (EXDEV), on which mv copies and deletes by itself.
    /// </summary>
    /// <exception cref="FileSystemException">ReadOnly, NotFound, CrossDevice, IsDirectory, Exists (NoReplace), InvalidArgument (Exchange).</exception>
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
            throw new FileSystemException(FsError.CrossDevice, "renaming a directory is done by copying");
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
                SetListingEntryLocked(toDir, newName, new ChildEntry(NodeKind.File, a.Size, source.ETag, a.Mtime));
            }
            _logger.LogDebug("renamed {Old} to {New}", oldKey, newKey);
        }
        finally
        {
            w?.Gate.Release();
        }
    }
}
