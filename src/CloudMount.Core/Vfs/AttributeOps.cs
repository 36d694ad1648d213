using CloudMount.Core.Storage;

namespace CloudMount.Core.Vfs;

/// <summary>
/// Changes of attributes and metadata: setattr (size, mode, owner, times) and the metadata changes behind
/// extended attributes. A file's change holds the file's gate, so it is ordered with its writes and uploads; a
/// directory's goes to its marker (<see cref="DirectoryMarkers"/>).
/// </summary>
/// <remarks>
/// What each change costs (README's POSIX table): on a file with data not yet uploaded, nothing (it goes up with
/// the upload); on a stored file, one metadata update (S3: a copy of the object onto itself, If-Match its ETag),
/// plus a HEAD when its metadata is not known; on a directory, one update of its marker, or a PUT creating one.
/// </remarks>
internal sealed class AttributeOps(VfsContext ctx, NodeLookup lookup, WriteBack writeBack, Uploads uploads, DirectoryMarkers markers)
{
    private InodeTable Table => ctx.Table;

    /// <summary>
    /// Changes attributes. Size truncates or extends through the staging file (uploaded at once when no handle is
    /// open, otherwise at flush). Mode, owner and times are stored in the object's metadata
    /// (<see cref="PosixMetadata"/>), and ctime becomes now; on a store without metadata they last for the session.
    /// </summary>
    /// <exception cref="FileSystemException">ReadOnly; IsDirectory for a size change on a directory; InvalidArgument
    /// for a negative size or a size change of a special file; FileTooLarge beyond the store's largest object; NoSpace.</exception>
    public async ValueTask<NodeAttributes> SetAttrAsync(ulong ino, SetAttributes changes, CancellationToken ct)
    {
        var n = Table.Get(ino);
        if (changes.Size is { } size)
        {
            ctx.ThrowIfReadOnly();
            if (n.IsDirectory) throw new FileSystemException(FsError.IsDirectory, "is a directory");
            if (n.Kind != NodeKind.File) throw new FileSystemException(FsError.InvalidArgument, $"{n.Name} is not a regular file");
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
        if (changes.ChangesPosix)
        {
            ctx.ThrowIfReadOnly();
            var now = ctx.Time.GetUtcNow();
            if (!ctx.StoresPosix)
            {
                lock (Table.Sync)
                {
                    var shown = AttributeView.OfLocked(ctx, n);
                    n.Session = Changed(n, AttributeView.KnownLocked(n), changes, shown, now);
                    if (changes.Mtime is { } t && n.Write is { } w) (w.Mtime, w.MtimeSet) = (t, true);
                    if (changes.Mtime is not null) n.LocalMtime = null;
                    n.Revision++;
                }
            }
            else if (n.IsDirectory)
            {
                var shown = AttributeView.Of(ctx, n);
                await markers.ChangeAsync(n, meta => Changed(n, PosixMetadata.Parse(meta), changes, shown, now).WriteTo(meta), ct).ConfigureAwait(false);
                if (changes.Mtime is not null)
                {
                    lock (Table.Sync) n.LocalMtime = null;
                }
            }
            else
            {
                var shown = AttributeView.Of(ctx, n);
                await ChangeMetadataAsync(ino, (meta, w) =>
                {
                    Changed(n, PosixMetadata.Parse(meta), changes, shown, now).WriteTo(meta);
                    if (changes.Mtime is { } t && w is not null) (w.Mtime, w.MtimeSet) = (t, true);
                }, ct).ConfigureAwait(false);
            }
            lock (Table.Sync) n.LocalCtime = now;
        }
        return AttributeView.Of(ctx, n);
    }

    /// <summary>
    /// The whole attribute set after a change: what is known, the change on top, defaults for the rest (so the
    /// stored record is complete), and ctime now.
    /// </summary>
    private PosixMetadata Changed(Inode n, PosixMetadata known, SetAttributes c, NodeAttributes shown, DateTimeOffset now) =>
        new(c.Mtime ?? known.Mtime ?? shown.Mtime,
            NodeKinds.TypeBits(n.Kind) | (c.Mode is { } m ? m & 0xFFF : known.Permissions ?? shown.Mode),
            c.Uid ?? known.Uid ?? shown.Uid,
            c.Gid ?? known.Gid ?? shown.Gid)
        {
            Atime = c.Atime ?? known.Atime,
            Ctime = now,
            Rdev = known.Rdev,
        };

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
        if (n.IsDirectory) throw new FileSystemException(FsError.NotSupported, "directories keep only POSIX attributes, on their marker");
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
                writeBack.MarkDirtyLocked(n, w, touchMtime: false);
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
            if (updated.Metadata is null) updated = updated with { Metadata = meta, ContentType = updated.ContentType ?? head.ContentType, ContentEncoding = updated.ContentEncoding ?? head.ContentEncoding };
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
