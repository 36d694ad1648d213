using CloudMount.Core.Storage;

namespace CloudMount.Core.Vfs;

/// <summary>
/// Changes of attributes and metadata: setattr (size, times, mode, owner) and the metadata changes behind
/// extended attributes. Each holds the file's gate, so it is ordered with the file's writes and uploads.
/// </summary>
internal sealed class AttributeOps(VfsContext ctx, NodeLookup lookup, WriteBack writeBack, Uploads uploads)
{
    private InodeTable Table => ctx.Table;

    /// <summary>
    /// Changes attributes. Size truncates or extends through the staging file (uploaded at once when no handle is
    /// open, otherwise at flush). With <see cref="VfsOptions.PosixAttributes"/>, mtime, mode, uid and gid of a file
    /// are stored in its metadata (<see cref="PosixMetadata"/>; a copy of the object onto itself, or with the
    /// pending upload); otherwise mtime is kept in memory and mode, owner and atime are accepted and not stored.
    /// </summary>
    /// <exception cref="FileSystemException">ReadOnly; IsDirectory for a size change on a directory; InvalidArgument
    /// for a negative size; FileTooLarge beyond the store's largest object; NoSpace.</exception>
    public async ValueTask<NodeAttributes> SetAttrAsync(ulong ino, SetAttributes changes, CancellationToken ct)
    {
        var n = Table.Get(ino);
        if (changes.Size is { } size)
        {
            ctx.ThrowIfReadOnly();
            if (n.IsDirectory) throw new FileSystemException(FsError.IsDirectory, "is a directory");
            if (size < 0) throw new FileSystemException(FsError.InvalidArgument, "negative size");
            using var pin = Table.Pin(n);
            using (await InodeGates.EnterAsync(n, ct).ConfigureAwait(false))
            {
                var w = writeBack.PrepareLocked(n, truncate: false);
                try
                {
                    await writeBack.SetLengthLockedAsync(n, w, size, ct).ConfigureAwait(false);
                    if (IsIdle(n)) await uploads.UploadLockedAsync(n, w, ct).ConfigureAwait(false);
                }
                finally
                {
                    await writeBack.TeardownIfIdleLockedAsync(n, w).ConfigureAwait(false);
                }
            }
        }
        bool posix = ctx.Options.PosixAttributes && !n.IsDirectory
            && (changes.Mode is not null || changes.Uid is not null || changes.Gid is not null || changes.Mtime is not null);
        if (posix)
        {
            ctx.ThrowIfReadOnly();
            DateTimeOffset shown;
            lock (Table.Sync) shown = AttributeView.OfLocked(ctx, n).Mtime;
            await ChangeMetadataAsync(ino, (meta, w) =>
            {
                if (changes.Mtime is { } t && w is not null) w.Mtime = t;
                var old = PosixMetadata.Parse(meta);
                uint type = n.Kind == NodeKind.Symlink ? PosixMetadata.SymlinkType : PosixMetadata.RegularType;
                uint permissions = changes.Mode is { } m ? m & 0xFFF : old.Permissions ?? ctx.Options.FileMode;
                new PosixMetadata(changes.Mtime ?? old.Mtime ?? shown, type | permissions,
                    changes.Uid ?? old.Uid ?? ctx.Options.Uid, changes.Gid ?? old.Gid ?? ctx.Options.Gid).WriteTo(meta);
            }, ct).ConfigureAwait(false);
            return AttributeView.Of(ctx, n);
        }
        if (changes.Mtime is { } mtime)
        {
            using var pin = Table.Pin(n);
            using (await InodeGates.EnterAsync(n, ct).ConfigureAwait(false))
            {
                lock (Table.Sync)
                {
                    if (n.Write is { } w) w.Mtime = mtime;
                    n.Mtime = mtime;
                    n.Revision++;
                }
            }
        }
        return AttributeView.Of(ctx, n);
    }

    private bool IsIdle(Inode n)
    {
        lock (Table.Sync) return n.OpenCount == 0;
    }

    /// <summary>
    /// Applies <paramref name="change"/> to a file's user metadata and stores it. A file with local data keeps the
    /// change for its upload, which happens now if the file is not open; a clean file's object gets the new
    /// metadata with <see cref="IObjectStore.UpdateMetadataAsync"/> (a copy onto itself, If-Match its ETag).
    /// The change gets the file's staging state, when it has one, to note what else the change means for it.
    /// </summary>
    /// <exception cref="FileSystemException">NotSupported for directories; what <paramref name="change"/> throws; store errors.</exception>
    public async Task ChangeMetadataAsync(ulong ino, Action<Dictionary<string, string>, FileWriteBack?> change, CancellationToken ct)
    {
        var n = Table.Get(ino);
        if (n.IsDirectory) throw new FileSystemException(FsError.NotSupported, "directories are key prefixes and have no metadata");
        using var pin = Table.Pin(n);
        using (await InodeGates.EnterAsync(n, ct).ConfigureAwait(false))
        {
            if (n.Write is { } w && (w.Dirty || w.UploadFailed || n.LocalOnly))
            {
                // Keep the change with the data: it goes up with the next upload.
                var pending = w.Metadata is { } known ? new Dictionary<string, string>(known, StringComparer.Ordinal)
                    : await uploads.KnownMetadataAsync(n, w, ct).ConfigureAwait(false);
                change(pending, w);
                lock (Table.Sync)
                {
                    w.Metadata = pending;
                    n.Revision++;
                }
                writeBack.MarkDirtyLocked(n, w);
                if (IsIdle(n))
                {
                    await uploads.UploadLockedAsync(n, w, ct).ConfigureAwait(false);
                    await writeBack.TeardownIfIdleLockedAsync(n, w).ConfigureAwait(false);
                }
                else if (w.RecordState is { } state)
                {
                    WriteBack.WriteRecordLocked(ctx, n, w, state, "metadata changed");
                }
                return;
            }
            var head = await lookup.EnsureHeadAsync(n, ct).ConfigureAwait(false);
            var meta = head.Metadata is { } m ? new Dictionary<string, string>(m, StringComparer.Ordinal) : new Dictionary<string, string>(StringComparer.Ordinal);
            change(meta, n.Write);
            string key = Table.Key(n);
            var updated = await ctx.Store.UpdateMetadataAsync(key, new ObjectWriteOptions
            {
                ContentType = head.ContentType,
                ContentEncoding = head.ContentEncoding,
                Metadata = meta,
            }, head.ETag, ct).ConfigureAwait(false);
            lock (Table.Sync)
            {
                if (n.Write is { } open)
                {
                    open.Metadata = new Dictionary<string, string>(meta, StringComparer.Ordinal);
                    if (open.RemoteETag == head.ETag) open.RemoteETag = updated.ETag;
                }
                if (n.ETag == head.ETag || n.ETag == updated.ETag)
                {
                    n.Revision++;
                    n.ETag = updated.ETag;
                    n.Size = updated.Size;
                    n.Mtime = updated.LastModified;
                    n.Head = updated;
                    if (n.Encoding is not null) n.EncodingETag = updated.ETag;
                    if (n.KernelCacheETag == head.ETag) n.KernelCacheETag = updated.ETag;
                    if (n.Parent is { } p && !n.Detached)
                    {
                        ctx.Views.RecordLocked(p, n.Name, ObjectHeads.EntryFromHead(updated, n.DecodedSize));
                    }
                }
            }
        }
        ctx.InvalidateKernelAttributes?.Invoke(n.Ino);
    }
}
