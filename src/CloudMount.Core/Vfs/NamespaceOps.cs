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
    public async ValueTask<(EntryReply Entry, OpenReply Open)> CreateAsync(ulong parent, string name, OpenFlags flags, NodeCreation? creation, CancellationToken ct)
    {
        ctx.ThrowIfReadOnly();
        KeyNames.Validate(name);
        var dir = Table.GetDirectory(parent);
        CheckKeyLength(dir, name);
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
                    var posix = NewAttributes(dir, NodeKind.File, creation);
                    var w = writeBack.CreateForNew(n, name, ctx.StoresPosix ? posix : null);
                    lock (Table.Sync)
                    {
                        if (!ctx.StoresPosix) n.Session = posix;
                        AttributeView.EntriesChangedLocked(ctx, dir);
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

    /// <summary>Creates a directory by writing the zero-byte marker <c>name/</c>, its mode, owner and times in its metadata.</summary>
    /// <exception cref="FileSystemException">ReadOnly, Exists, NotDirectory, NameTooLong.</exception>
    public async ValueTask<EntryReply> MkdirAsync(ulong parent, string name, NodeCreation? creation, CancellationToken ct)
    {
        ctx.ThrowIfReadOnly();
        KeyNames.Validate(name);
        var dir = Table.GetDirectory(parent);
        CheckKeyLength(dir, name + "/");
        using (await InodeGates.EnterAsync(dir, ct).ConfigureAwait(false))
        {
            await ThrowIfExistsAsync(dir, name, ct).ConfigureAwait(false);
            string key = Table.Prefix(dir) + name + "/";
            var posix = NewAttributes(dir, NodeKind.Directory, creation);
            var meta = new Dictionary<string, string>(StringComparer.Ordinal);
            if (ctx.StoresPosix) posix.WriteTo(meta);
            var options = ObjectWriteOptions.Default with { ContentType = DirectoryMarkers.ContentType, Metadata = meta.Count > 0 ? meta : null };
            var info = await ctx.Store.WriteAsync(key, ObjectContent.FromBytes(ReadOnlyMemory<byte>.Empty), options, ct).ConfigureAwait(false);
            var marker = info with { ContentType = DirectoryMarkers.ContentType, Metadata = options.Metadata };
            lock (Table.Sync)
            {
                ThrowIfGone(dir);
                var entry = ObjectHeads.DirectoryEntry(marker);
                var child = Table.UpsertChildLocked(dir, name, entry);
                if (!ctx.StoresPosix) child.Session = posix;
                child.Subdirs = 0;
                Views.RecordLocked(dir, name, entry);
                Views.RecordEmptyDirectoryLocked(child); // a new directory is known to be empty
                AttributeView.EntriesChangedLocked(ctx, dir, subdirDelta: +1);
                return AttributeView.EntryLocked(ctx, child);
            }
        }
    }

    /// <summary>
    /// Creates a symbolic link the way s3fs stores one: an object holding the target path, whose <c>mode</c>
    /// metadata is S_IFLNK|0777 (with <c>mtime</c>, <c>uid</c> and <c>gid</c> beside it), uploaded at once.
    /// </summary>
    /// <exception cref="FileSystemException">ReadOnly, Exists, NameTooLong, NotSupported (a store without metadata).</exception>
    public async ValueTask<EntryReply> SymlinkAsync(ulong parent, string name, string target, NodeCreation? creation, CancellationToken ct)
    {
        ctx.ThrowIfReadOnly();
        KeyNames.Validate(name);
        if (System.Text.Encoding.UTF8.GetByteCount(target) > 4095) throw new FileSystemException(FsError.NameTooLong, "symlink target longer than PATH_MAX");
        if (!ctx.Store.Capabilities.Metadata)
        {
            throw new FileSystemException(FsError.NotSupported, $"{ctx.Store.Name} keeps no object metadata, so it cannot mark an object as a symlink");
        }
        var dir = Table.GetDirectory(parent);
        CheckKeyLength(dir, name);
        var n = await PutNodeAsync(dir, name, NodeKind.Symlink, System.Text.Encoding.UTF8.GetBytes(target), NewAttributes(dir, NodeKind.Symlink, creation), ct).ConfigureAwait(false);
        lock (Table.Sync)
        {
            n.SymlinkTarget = target;
            return AttributeView.EntryLocked(ctx, n);
        }
    }

    /// <summary>
    /// mknod: a regular file (an empty object, as create stores it), or a fifo, socket or device: an empty object
    /// whose <c>mode</c> metadata carries the type (and <c>rdev</c> the device number), as s3fs stores them.
    /// </summary>
    /// <exception cref="FileSystemException">ReadOnly, Exists, NameTooLong, InvalidArgument (a directory or an unknown type),
    /// NotSupported (a store without metadata).</exception>
    public async ValueTask<EntryReply> MknodAsync(ulong parent, string name, NodeKind kind, ulong rdev, NodeCreation? creation, CancellationToken ct)
    {
        ctx.ThrowIfReadOnly();
        KeyNames.Validate(name);
        if (kind is NodeKind.Directory or NodeKind.Symlink) throw new FileSystemException(FsError.InvalidArgument, "mknod makes files, fifos, sockets and devices");
        if (kind != NodeKind.File && !ctx.Store.Capabilities.Metadata)
        {
            throw new FileSystemException(FsError.NotSupported, $"{ctx.Store.Name} keeps no object metadata, so it cannot mark an object as a {kind}");
        }
        var dir = Table.GetDirectory(parent);
        CheckKeyLength(dir, name);
        var posix = NewAttributes(dir, kind, creation) with { Rdev = kind is NodeKind.CharDevice or NodeKind.BlockDevice ? rdev : null };
        var n = await PutNodeAsync(dir, name, kind, [], posix, ct).ConfigureAwait(false);
        lock (Table.Sync) return AttributeView.EntryLocked(ctx, n);
    }

    /// <summary>Stores a small node (symlink, special or empty file) at once and makes its inode.</summary>
    private async Task<Inode> PutNodeAsync(Inode dir, string name, NodeKind kind, byte[] body, PosixMetadata posix, CancellationToken ct)
    {
        using (await InodeGates.EnterAsync(dir, ct).ConfigureAwait(false))
        {
            await ThrowIfExistsAsync(dir, name, ct).ConfigureAwait(false);
            string key = Table.Prefix(dir) + name;
            var meta = new Dictionary<string, string>(StringComparer.Ordinal);
            if (ctx.Store.Capabilities.Metadata) posix.WriteTo(meta);
            var options = new ObjectWriteOptions
            {
                ContentType = kind == NodeKind.File ? ContentTypes.ForName(name) : "application/octet-stream",
                Metadata = meta.Count > 0 ? meta : null,
            };
            var info = await ctx.Store.WriteAsync(key, ObjectContent.FromBytes(body), options, ct).ConfigureAwait(false);
            var head = info with { ContentType = options.ContentType, Metadata = options.Metadata };
            lock (Table.Sync)
            {
                ThrowIfGone(dir);
                var entry = new ChildEntry(kind, info.Size, info.ETag, info.LastModified, head);
                var n = Table.UpsertChildLocked(dir, name, entry);
                if (!ctx.StoresPosix) n.Session = posix;
                Views.RecordLocked(dir, name, entry);
                Views.ClearMissingLocked(key);
                AttributeView.EntriesChangedLocked(ctx, dir);
                return n;
            }
        }
    }

    /// <summary>
    /// The attributes a new node starts with: the caller's permissions and owner (or the mount's defaults), the
    /// group of a set-group-ID directory (whose subdirectories inherit the bit), now for every time.
    /// </summary>
    public PosixMetadata NewAttributes(Inode dir, NodeKind kind, NodeCreation? creation)
    {
        var o = ctx.Options;
        uint perm = kind == NodeKind.Symlink ? 0x1FFu : creation?.Mode & 0xFFF ?? (kind == NodeKind.Directory ? o.DirectoryMode : o.FileMode);
        uint uid = creation?.Uid ?? o.Uid, gid = creation?.Gid ?? o.Gid;
        lock (Table.Sync)
        {
            var parent = AttributeView.OfLocked(ctx, dir);
            if ((parent.Mode & 0x400) != 0)
            {
                gid = parent.Gid;
                if (kind == NodeKind.Directory) perm |= 0x400;
            }
        }
        var now = ctx.Time.GetUtcNow();
        return new PosixMetadata(now, NodeKinds.TypeBits(kind) | perm, uid, gid) { Ctime = now };
    }

    /// <summary>Throws NameTooLong when the key of <paramref name="name"/> in <paramref name="dir"/> is longer than the store takes.</summary>
    public void CheckKeyLength(Inode dir, string name)
    {
        int bytes = System.Text.Encoding.UTF8.GetByteCount(Table.Prefix(dir)) + System.Text.Encoding.UTF8.GetByteCount(name);
        if (bytes > ctx.Options.MaxKeyBytes)
        {
            throw new FileSystemException(FsError.NameTooLong, $"the key of {name} would be {bytes} bytes, more than the store's {ctx.Options.MaxKeyBytes}");
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
    /// the file in progress, so the object it makes is the one deleted. A stored file that is open is staged
    /// first, so its descriptors keep reading (and writing) its bytes until they are closed.
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
                bool localOnly, open;
                string key;
                lock (Table.Sync)
                {
                    if (InodeTable.ChildLocked(dir, name) != child) continue; // replaced meanwhile: look again
                    localOnly = child.LocalOnly;
                    open = child.OpenCount > 0;
                    key = Table.KeyLocked(child);
                }
                if (!localOnly && open)
                {
                    // POSIX keeps an unlinked file's bytes for its open descriptors: stage them before the object goes
                    // (rm of a large file open elsewhere waits for its download; a failure fails the unlink, and
                    // nothing is deleted). Every handle then reads the staging file, dropped at the last close.
                    var staged = writeBack.PrepareLocked(child, truncate: false);
                    await writeBack.HydrateLockedAsync(child, staged, ct).ConfigureAwait(false);
                }
                if (!localOnly) await ctx.Store.DeleteAsync(key, ct).ConfigureAwait(false);
                lock (Table.Sync)
                {
                    Views.RecordLocked(dir, name, null);
                    Table.DetachLocked(child);
                    AttributeView.EntriesChangedLocked(ctx, dir);
                    AttributeView.AttributesChangedLocked(ctx, child);
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
                AttributeView.EntriesChangedLocked(ctx, dir, subdirDelta: -1);
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
