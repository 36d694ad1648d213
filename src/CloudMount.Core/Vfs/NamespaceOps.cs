using CloudMount.Core.Storage;

namespace CloudMount.Core.Vfs;

/// <summary>
/// Changes of names: create, mkdir, symlink, unlink, rmdir (rename is <see cref="RenameOps"/>). Each holds the
/// gate of the directory whose entries it changes, and unlink also the gate of the file it removes, so a
/// removal waits for an upload of that file in progress and nothing reappears after it.
/// </summary>
internal sealed class NamespaceOps(VfsContext ctx, NodeLookup lookup, WriteBack writeBack, OpenFiles files)
{
    private InodeTable Table => ctx.Table;
    private DirectoryViews Views => ctx.Views;

    /// <summary>Creates and opens a new, empty file; it exists locally until its first flush uploads it.</summary>
    /// <exception cref="FileSystemException">ReadOnly, NotDirectory, NameTooLong, Exists (with O_EXCL), IsDirectory, NoSpace.</exception>
    public async ValueTask<(EntryReply Entry, OpenReply Open)> CreateAsync(ulong parent, string name, OpenFlags flags, CancellationToken ct)
    {
        ctx.ThrowIfReadOnly();
        KeyNames.Validate(name);
        var dir = Table.GetDirectory(parent);
        while (true)
        {
            using var existing = await PinChildAsync(dir, name, ct).ConfigureAwait(false);
            if (existing.Inode is { } old)
            {
                if ((flags & OpenFlags.Exclusive) != 0) throw new FileSystemException(FsError.Exists, $"{name} exists");
                if (old.IsDirectory) throw new FileSystemException(FsError.IsDirectory, $"{name} is a directory");
            }
            // The file replaced (if any) is gated too: an upload of it in progress finishes before the new one.
            using (await InodeGates.EnterAsync(ct, dir, existing.Inode).ConfigureAwait(false))
            {
                Inode n;
                lock (Table.Sync)
                {
                    ThrowIfGone(dir);
                    if (InodeTable.ChildLocked(dir, name) is { } now && now != existing.Inode) continue; // changed meanwhile: look again
                    n = Table.AddNewChildLocked(dir, name, NodeKind.File, ctx.Time.GetUtcNow());
                    n.LocalOnly = true;
                    n.Pins++;
                }
                try
                {
                    var w = writeBack.CreateForNew(n, name);
                    lock (Table.Sync)
                    {
                        n.Write = w;
                        n.OpenCount++;
                        Views.ClearMissingLocked(Table.PrefixLocked(dir) + name);
                        Views.RecordLocked(dir, name, AttributeView.LocalEntryLocked(ctx, n));
                        var entry = AttributeView.EntryLocked(ctx, n);
                        return (entry, new OpenReply(files.RegisterCreated(n, flags), false, false));
                    }
                }
                catch
                {
                    lock (Table.Sync) Table.DetachLocked(n);
                    throw;
                }
                finally
                {
                    lock (Table.Sync)
                    {
                        n.Pins--;
                        Table.DropIfUnreferencedLocked(n);
                    }
                }
            }
        }
    }

    /// <summary>Creates a directory by writing the zero-byte marker <c>name/</c>.</summary>
    /// <exception cref="FileSystemException">ReadOnly, Exists, NotDirectory, NameTooLong.</exception>
    public async ValueTask<EntryReply> MkdirAsync(ulong parent, string name, CancellationToken ct)
    {
        ctx.ThrowIfReadOnly();
        KeyNames.Validate(name);
        var dir = Table.GetDirectory(parent);
        using (await InodeGates.EnterAsync(dir, ct).ConfigureAwait(false))
        {
            await ThrowIfExistsAsync(dir, name, ct).ConfigureAwait(false);
            string key = Table.Prefix(dir) + name + "/";
            var info = await ctx.Store.WriteAsync(key, ObjectContent.FromBytes(ReadOnlyMemory<byte>.Empty),
                ObjectWriteOptions.Default with { ContentType = "application/x-directory" }, ct).ConfigureAwait(false);
            lock (Table.Sync)
            {
                ThrowIfGone(dir);
                var entry = new ChildEntry(NodeKind.Directory, 0, null, info.LastModified);
                var child = Table.UpsertChildLocked(dir, name, entry);
                Views.RecordLocked(dir, name, entry);
                Views.RecordEmptyDirectoryLocked(child); // a new directory is known to be empty
                return AttributeView.EntryLocked(ctx, child);
            }
        }
    }

    /// <summary>
    /// Creates a symbolic link the way s3fs stores one: an object holding the target path, whose <c>mode</c>
    /// metadata is S_IFLNK|0777 (with <c>mtime</c>, <c>uid</c> and <c>gid</c> beside it), uploaded at once.
    /// </summary>
    /// <exception cref="FileSystemException">ReadOnly, Exists, NameTooLong, NotSupported (a store without metadata).</exception>
    public async ValueTask<EntryReply> SymlinkAsync(ulong parent, string name, string target, CancellationToken ct)
    {
        ctx.ThrowIfReadOnly();
        KeyNames.Validate(name);
        if (!ctx.Store.Capabilities.Metadata)
        {
            throw new FileSystemException(FsError.NotSupported, $"{ctx.Store.Name} keeps no object metadata, so it cannot mark an object as a symlink");
        }
        var dir = Table.GetDirectory(parent);
        using (await InodeGates.EnterAsync(dir, ct).ConfigureAwait(false))
        {
            await ThrowIfExistsAsync(dir, name, ct).ConfigureAwait(false);
            string key = Table.Prefix(dir) + name;
            var meta = new Dictionary<string, string>(StringComparer.Ordinal);
            new PosixMetadata(ctx.Time.GetUtcNow(), PosixMetadata.SymlinkType | 0x1FF, ctx.Options.Uid, ctx.Options.Gid).WriteTo(meta);
            var options = new ObjectWriteOptions { ContentType = "application/octet-stream", Metadata = meta };
            var info = await ctx.Store.WriteAsync(key, ObjectContent.FromBytes(System.Text.Encoding.UTF8.GetBytes(target)), options, ct).ConfigureAwait(false);
            var head = info with { ContentType = options.ContentType, Metadata = meta };
            lock (Table.Sync)
            {
                ThrowIfGone(dir);
                var entry = new ChildEntry(NodeKind.Symlink, info.Size, info.ETag, info.LastModified, head);
                var n = Table.UpsertChildLocked(dir, name, entry);
                n.SymlinkTarget = target;
                Views.RecordLocked(dir, name, entry);
                Views.ClearMissingLocked(key);
                return AttributeView.EntryLocked(ctx, n);
            }
        }
    }

    /// <summary>The target of a symbolic link: the object's bytes (one GET, then remembered for its ETag).</summary>
    /// <exception cref="FileSystemException">InvalidArgument when the node is not a symlink.</exception>
    public async ValueTask<string> ReadLinkAsync(ulong ino, CancellationToken ct)
    {
        var n = Table.Get(ino);
        string? etag;
        string key;
        lock (Table.Sync)
        {
            if (n.Kind != NodeKind.Symlink) throw new FileSystemException(FsError.InvalidArgument, $"{n.Name} is not a symlink");
            if (n.SymlinkTarget is { } known) return known;
            etag = n.ETag;
            key = Table.KeyLocked(n);
        }
        await using var r = await ctx.Store.ReadAsync(key, new ByteRange(0, 4096), etag, ct).ConfigureAwait(false);
        using var buffer = new MemoryStream();
        await r.Content.CopyToAsync(buffer, ct).ConfigureAwait(false);
        string target = System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
        lock (Table.Sync)
        {
            if (n.ETag == etag) n.SymlinkTarget = target;
        }
        return target;
    }

    /// <summary>
    /// Removes a file: deletes its object (a file never uploaded is only dropped locally). Waits for an upload of
    /// the file in progress, so the object it makes is the one deleted.
    /// </summary>
    /// <exception cref="FileSystemException">ReadOnly, NotFound, IsDirectory.</exception>
    public async ValueTask UnlinkAsync(ulong parent, string name, CancellationToken ct)
    {
        ctx.ThrowIfReadOnly();
        var dir = Table.GetDirectory(parent);
        while (true)
        {
            using var found = await PinChildAsync(dir, name, ct).ConfigureAwait(false);
            var child = found.Inode ?? throw VfsContext.NotFound(name);
            if (child.IsDirectory) throw new FileSystemException(FsError.IsDirectory, $"{name} is a directory");
            using (await InodeGates.EnterAsync(ct, dir, child).ConfigureAwait(false))
            {
                bool localOnly;
                string key;
                lock (Table.Sync)
                {
                    if (InodeTable.ChildLocked(dir, name) != child) continue; // replaced meanwhile: look again
                    localOnly = child.LocalOnly;
                    key = Table.KeyLocked(child);
                }
                if (!localOnly) await ctx.Store.DeleteAsync(key, ct).ConfigureAwait(false);
                lock (Table.Sync)
                {
                    Views.RecordLocked(dir, name, null);
                    Table.DetachLocked(child);
                }
                // Open: its staging data stays until the last close, but is no longer anyone's to recover.
                if (child.Write is { } w)
                {
                    StagingIo.TryRun(w.File.DeleteRecord);
                    w.RecordState = null;
                    await writeBack.TeardownIfIdleLockedAsync(child, w).ConfigureAwait(false);
                }
                return;
            }
        }
    }

    /// <summary>Removes an empty directory: deletes its marker, if any.</summary>
    /// <exception cref="FileSystemException">ReadOnly, NotFound, NotDirectory, NotEmpty.</exception>
    public async ValueTask RmdirAsync(ulong parent, string name, CancellationToken ct)
    {
        ctx.ThrowIfReadOnly();
        var dir = Table.GetDirectory(parent);
        using var found = await PinChildAsync(dir, name, ct).ConfigureAwait(false);
        var child = found.Inode ?? throw VfsContext.NotFound(name);
        if (!child.IsDirectory) throw new FileSystemException(FsError.NotDirectory, $"{name} is not a directory");
        using (await InodeGates.EnterAsync(ct, dir, child).ConfigureAwait(false))
        {
            string prefix;
            lock (Table.Sync)
            {
                if (InodeTable.ChildLocked(dir, name) != child) throw VfsContext.NotFound(name);
                if (child.Children?.Values.Any(c => c.HasLocalState && !c.Detached) == true)
                {
                    throw new FileSystemException(FsError.NotEmpty, $"{name} is not empty");
                }
                prefix = Table.PrefixLocked(child);
            }
            var page = await ctx.Store.ListAsync(new ListRequest(prefix, null, null, 2), ct).ConfigureAwait(false);
            if (page.Objects.Any(o => o.Key != prefix) || page.CommonPrefixes.Count > 0)
            {
                throw new FileSystemException(FsError.NotEmpty, $"{name} is not empty");
            }
            if (page.Objects.Count > 0 || !ctx.Store.Capabilities.MarkerInOwnListing)
            {
                await ctx.Store.DeleteAsync(prefix, ct).ConfigureAwait(false);
            }
            lock (Table.Sync)
            {
                Views.RecordLocked(dir, name, null);
                Views.InvalidatePrefixLocked(prefix);
                Table.DetachLocked(child);
            }
        }
    }

    /// <summary>The child called <paramref name="name"/>, pinned until the result is disposed (no inode when it does not exist).</summary>
    public async Task<InodeTable.Pinned> PinChildAsync(Inode dir, string name, CancellationToken ct)
    {
        var n = await lookup.FindChildAsync(dir, name, NodeLookup.Reference.Pin, ct).ConfigureAwait(false);
        return n is null ? default : Table.Adopt(n);
    }

    /// <summary>Throws Exists if <paramref name="name"/> exists in <paramref name="dir"/>.</summary>
    public async Task ThrowIfExistsAsync(Inode dir, string name, CancellationToken ct)
    {
        using var found = await PinChildAsync(dir, name, ct).ConfigureAwait(false);
        if (found.Inode is not null) throw new FileSystemException(FsError.Exists, $"{name} exists");
    }

    /// <summary>A directory removed (or renamed over) while an operation waited for it takes no new entries. Caller holds the table lock.</summary>
    public static void ThrowIfGone(Inode dir)
    {
        if (dir.Detached) throw new FileSystemException(FsError.NotFound, $"the directory {dir.Name} was removed");
    }
}
