using System.Collections.Concurrent;
using CloudMount.Core.Reading;

namespace CloudMount.Core.Vfs;

/// <summary>
/// Open files: the handle table, open and release, and the I/O that goes through a handle (read, write,
/// flush, fsync). A handle is counted on its inode (<see cref="Inode.OpenCount"/>) before anything is prepared
/// for it and uncounted only at release, so the staging state a handle relies on is never torn down under it.
/// </summary>
/// <remarks>Locking: <c>_files</c> is a concurrent map; counts are changed under the table lock; staging state is
/// prepared, written and uploaded under the inode's gate.</remarks>
internal sealed class OpenFiles(VfsContext ctx, NodeLookup lookup, WriteBack writeBack, Uploads uploads, ReadSources sources)
{
    private readonly ConcurrentDictionary<ulong, FileHandle> _files = new();
    private long _nextHandle;

    private InodeTable Table => ctx.Table;

    /// <summary>A new handle number (file and directory handles share the sequence).</summary>
    public ulong NextHandle() => (ulong)Interlocked.Increment(ref _nextHandle);

    /// <summary>Open handles now (for tests and unmount).</summary>
    public int Count => _files.Count;

    private FileHandle Get(ulong fh) =>
        _files.TryGetValue(fh, out var h) ? h : throw new FileSystemException(FsError.BadHandle, $"unknown file handle {fh}");

    /// <summary>
    /// Opens a file. Close-to-open: when the cached attributes have expired, the object is checked (HEAD) so the
    /// reader gets the current version, whose ETag is then pinned for every read through this handle. The kernel
    /// keeps its cached pages (keep_cache) only when the ETag is the one they came from.
    /// </summary>
    /// <exception cref="FileSystemException">IsDirectory, ReadOnly, NotFound (gone since lookup), NoSpace.</exception>
    public async ValueTask<OpenReply> OpenAsync(ulong ino, OpenFlags flags, CancellationToken ct)
    {
        var n = Table.Get(ino);
        if (n.IsDirectory) throw new FileSystemException(FsError.IsDirectory, "is a directory");
        bool write = (flags & OpenFlags.Write) != 0;
        if (write || (flags & OpenFlags.Truncate) != 0) ctx.ThrowIfReadOnly();
        bool stale;
        lock (Table.Sync)
        {
            n.OpenCount++;
            stale = !n.HasLocalState && !n.Detached && !ctx.Views.IsFreshLocked(n);
        }
        try
        {
            if (stale) await lookup.RefreshFileAsync(n, ct).ConfigureAwait(false);
            if (write)
            {
                using (await InodeGates.EnterAsync(n, ct).ConfigureAwait(false))
                {
                    writeBack.PrepareLocked(n, truncate: (flags & OpenFlags.Truncate) != 0);
                }
            }
            var source = await sources.PrepareAsync(n, ct).ConfigureAwait(false);
            bool directIo = source.DirectIo;
            // O_APPEND writes land at our end of the file (libfuse: without writeback caching the filesystem handles
            // O_APPEND), which for an encoded object is its decoded length, not the stored size the kernel may hold.
            // Direct I/O keeps the kernel's page cache from holding those bytes at the offset it guessed.
            if (write && (flags & OpenFlags.Append) != 0 && ctx.Options.Decoding is not null) directIo = true;
            lock (Table.Sync)
            {
                bool keepCache = n.Write is null && n.ETag is not null && n.KernelCacheETag == n.ETag;
                if (n.Write is null) n.KernelCacheETag = n.ETag;
                var handle = new FileHandle(n, flags, n.ETag, n.Size) { Reader = source.Reader, Decoded = source.Decoded };
                ulong fh = NextHandle();
                _files[fh] = handle;
                return new OpenReply(fh, keepCache, directIo);
            }
        }
        catch
        {
            lock (Table.Sync) n.OpenCount--;
            await ForgetStateIfIdleAsync(n).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Registers the handle of a file just created (its open count is already taken).</summary>
    public ulong RegisterCreated(Inode n, OpenFlags flags)
    {
        ulong fh = NextHandle();
        _files[fh] = new FileHandle(n, flags | OpenFlags.Write, null, 0);
        return fh;
    }

    /// <summary>
    /// Reads up to <paramref name="count"/> bytes at <paramref name="offset"/> as a lease of pooled buffers: staged
    /// files are read locally; encoded objects from their decoded copy; others from the handle's read-ahead, pinned
    /// to the ETag seen at open. Dispose the lease after replying.
    /// </summary>
    /// <exception cref="FileSystemException">BadHandle.</exception>
    /// <exception cref="Storage.PreconditionFailedException">The object changed since open (ESTALE).</exception>
    public async ValueTask<ReadLease> LeaseAsync(ulong fh, long offset, int count, CancellationToken ct)
    {
        var h = Get(fh);
        var n = h.Inode;
        FileWriteBack? w;
        lock (Table.Sync) w = n.Write;
        if (w is not null)
        {
            if (!w.Hydrated)
            {
                using (await InodeGates.EnterAsync(n, ct).ConfigureAwait(false))
                {
                    await writeBack.HydrateLockedAsync(n, w, ct).ConfigureAwait(false);
                }
            }
            // The handle is open, so the staging state cannot be torn down while this reads it.
            var buffer = BufferPool.Shared.Rent(count);
            int got;
            try
            {
                got = StagingIo.Run(ctx, "read the staging file", () => w.File.Read(offset, buffer.AsSpan()));
            }
            catch
            {
                BufferPool.Shared.Return(buffer);
                throw;
            }
            return new ReadLease([buffer.Slice(0, got)], () => BufferPool.Shared.Return(buffer));
        }
        if (h.Decoded is { } copy)
        {
            await copy.WaitForAsync(offset + count, ct).ConfigureAwait(false);
            var decodedBuffer = BufferPool.Shared.Rent(count);
            int read = copy.Read(offset, decodedBuffer.AsSpan());
            return new ReadLease([decodedBuffer.Slice(0, read)], () => BufferPool.Shared.Return(decodedBuffer));
        }
        if (h.Size == 0) return ReadLease.Empty;
        Prefetcher reader;
        lock (h.Sync)
        {
            reader = h.Reader ??= new Prefetcher(ctx.Store, () => Table.Key(n), h.ETag, h.Size, ctx.Options.ReadAhead, ctx.Logger, ctx.Options.Caches);
        }
        return await reader.LeaseAsync(offset, count, ct).ConfigureAwait(false);
    }

    /// <summary>Writes into the staging file (fetching the object's bytes first if the file was not truncated).</summary>
    /// <returns>Bytes written (all of them).</returns>
    /// <exception cref="FileSystemException">BadHandle when the handle was not opened for writing; NoSpace, Io, FileTooLarge.</exception>
    public async ValueTask<int> WriteAsync(ulong fh, long offset, ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        var h = Get(fh);
        if (!h.CanWrite) throw new FileSystemException(FsError.BadHandle, "file not open for writing");
        var n = h.Inode;
        using (await InodeGates.EnterAsync(n, ct).ConfigureAwait(false))
        {
            // Counted at open, so the state prepared then is still here (a failed write leaves it, marked).
            var w = writeBack.PrepareLocked(n, truncate: false);
            await writeBack.WriteLockedAsync(n, w, offset, data, (h.Flags & OpenFlags.Append) != 0, ct).ConfigureAwait(false);
        }
        return data.Length;
    }

    /// <summary>
    /// Called on every close() of a descriptor: uploads the file if this handle may write and the file has
    /// changes. Its failure is what close() returns, and the staged data is kept. A file that was only created or
    /// truncated to empty, with nothing written yet, is left for the last close (release): a shell redirect
    /// (<c>echo x &gt; f</c>) closes a duplicate of the descriptor before writing, which would otherwise store an
    /// empty object first.
    /// </summary>
    /// <exception cref="FileSystemException">Io when the upload failed (after retries); the error of a failed write.</exception>
    public async ValueTask FlushAsync(ulong fh, CancellationToken ct)
    {
        var h = Get(fh);
        if (!h.CanWrite) return;
        await UploadAsync(h.Inode, deferEmpty: true, ct).ConfigureAwait(false);
    }

    /// <summary>fsync: uploads whatever changed, empty files included.</summary>
    /// <exception cref="FileSystemException">Io when the upload failed; the error of a failed write.</exception>
    public async ValueTask FsyncAsync(ulong fh, CancellationToken ct) =>
        await UploadAsync(Get(fh).Inode, deferEmpty: false, ct).ConfigureAwait(false);

    private async Task UploadAsync(Inode n, bool deferEmpty, CancellationToken ct)
    {
        lock (Table.Sync)
        {
            if (n.Write is null) return;
        }
        using (await InodeGates.EnterAsync(n, ct).ConfigureAwait(false))
        {
            if (n.Write is not { } w) return;
            WriteBack.ThrowIfFailed(w);
            if (deferEmpty && w.Dirty && !w.HasWrites && w.Hydrated && w.File.Length == 0)
            {
                if (w.RecordState != Writing.PendingUpload.Closed) WriteBack.WriteRecordLocked(ctx, n, w, Writing.PendingUpload.Closed, "created; stored at release");
                return;
            }
            await uploads.UploadLockedAsync(n, w, ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The close of a handle (FUSE release): stops its read-ahead; after the last one, uploads what is still
    /// dirty and drops clean staging state (<see cref="WriteBack.OnLastReleaseLockedAsync"/>).
    /// </summary>
    public async ValueTask ReleaseAsync(ulong fh)
    {
        if (!_files.TryRemove(fh, out var h)) return;
        if (h.Reader is { } r) await r.DisposeAsync().ConfigureAwait(false);
        if (h.Decoded is { } copy) ctx.Options.Decoding?.Release(copy);
        var n = h.Inode;
        FileWriteBack? w;
        lock (Table.Sync)
        {
            n.OpenCount--;
            w = n.OpenCount == 0 ? n.Write : null;
            if (w is null)
            {
                Table.DropIfUnreferencedLocked(n);
                return;
            }
        }
        using (await InodeGates.EnterAsync(n, CancellationToken.None).ConfigureAwait(false))
        {
            if (n.Write is { } current) await writeBack.OnLastReleaseLockedAsync(n, current).ConfigureAwait(false);
        }
    }

    /// <summary>After a failed open: drops a staging state nobody uses.</summary>
    private async Task ForgetStateIfIdleAsync(Inode n)
    {
        FileWriteBack? w;
        lock (Table.Sync)
        {
            w = n.OpenCount == 0 ? n.Write : null;
            if (w is null)
            {
                Table.DropIfUnreferencedLocked(n);
                return;
            }
        }
        using (await InodeGates.EnterAsync(n, CancellationToken.None).ConfigureAwait(false))
        {
            if (n.Write is { } current) await writeBack.TeardownIfIdleLockedAsync(n, current).ConfigureAwait(false);
        }
    }

    /// <summary>Closes every handle's read-ahead (at unmount).</summary>
    public async Task DisposeAsync()
    {
        foreach (var h in _files.Values)
        {
            if (h.Reader is { } r) await r.DisposeAsync().ConfigureAwait(false);
        }
        _files.Clear();
    }
}
