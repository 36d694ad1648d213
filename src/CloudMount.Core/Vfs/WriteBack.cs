using CloudMount.Core.Storage;
using CloudMount.Core.Writing;
using Microsoft.Extensions.Logging;

namespace CloudMount.Core.Vfs;

/// <summary>
/// Write-back of files: the staging state (<see cref="FileWriteBack"/>) from the first open for writing to the
/// last release, filling it from the object (hydration), writes, truncation, and its crash-safe record.
/// Uploads are <see cref="Uploads"/>'s. Every method named <c>…Locked</c> is called with the file's
/// <see cref="Inode.Gate"/> held.
/// </summary>
/// <remarks>
/// <para>Rules: a file that becomes dirty gets its record (<see cref="PendingUpload"/>) at once, so a crash
/// loses nothing; a failed write to the staging file marks the file failed (<see cref="FileWriteBack.WriteFailure"/>)
/// and nothing is uploaded from it; staged data is discarded only when it is clean, failed, or unlinked.</para>
/// </remarks>
internal sealed class WriteBack(VfsContext ctx, Uploads uploads)
{
    private InodeTable Table => ctx.Table;

    /// <summary>The file's staging state, creating it if needed; with <paramref name="truncate"/>, empty and dirty.</summary>
    /// <exception cref="FileSystemException">NoSpace or Io when the staging file cannot be created.</exception>
    public FileWriteBack PrepareLocked(Inode n, bool truncate)
    {
        FileWriteBack? w;
        bool empty;
        lock (Table.Sync)
        {
            w = n.Write;
            empty = truncate || n.LocalOnly || n.Size == 0;
        }
        if (w is null)
        {
            var file = StagingIo.Run(ctx, "create a staging file", () => ctx.Staging.Create());
            lock (Table.Sync)
            {
                // Rewritten content keeps the object's encoding; a file hydrated from the store learns it then.
                var encoding = ctx.Options.Decoding is null ? Codecs.Codec.Identity
                    : n.EncodingETag == n.ETag && n.Encoding is { } known ? known : ctx.Options.Compression.For(n.Name);
                var head = n.HeadIsCurrent ? n.Head : null;
                w = new FileWriteBack(file, hydrated: empty, n.Size, n.LocalOnly ? null : n.ETag)
                {
                    Mtime = AttributeView.OfLocked(ctx, n).Mtime,
                    Encoding = encoding,
                    Metadata = head is null ? null : Uploads.CarriedMetadata(head.Metadata),
                    ContentType = head?.ContentType,
                };
                n.Write = w;
                n.Revision++;
            }
        }
        if (truncate) TruncateLocked(n, w, 0);
        return w;
    }

    /// <summary>Gives a new file (create) its staging state: empty, dirty, with its record and the POSIX attributes it is to be stored with.</summary>
    public FileWriteBack CreateForNew(Inode n, string name, PosixMetadata? posix)
    {
        var file = StagingIo.Run(ctx, "create a staging file", () => ctx.Staging.Create());
        Dictionary<string, string>? meta = null;
        if (posix is { } p)
        {
            meta = new Dictionary<string, string>(StringComparer.Ordinal);
            p.WriteTo(meta);
        }
        var w = new FileWriteBack(file, hydrated: true, 0, null)
        {
            Mtime = ctx.Time.GetUtcNow(),
            Encoding = ctx.Options.Compression.For(name),
            Metadata = meta,
        };
        try
        {
            MarkDirtyLocked(n, w);
        }
        catch
        {
            file.Close(delete: true);
            throw;
        }
        return w;
    }

    /// <summary>
    /// Marks the staged data changed: dirty (with mtime now, unless <paramref name="touchMtime"/> is false: a
    /// metadata change), with a record saying it is being written (written now if the record said otherwise).
    /// </summary>
    /// <exception cref="FileSystemException">NoSpace or Io when the record cannot be written.</exception>
    public void MarkDirtyLocked(Inode n, FileWriteBack w, bool touchMtime = true)
    {
        w.Dirty = true;
        if (touchMtime)
        {
            w.Mtime = ctx.Time.GetUtcNow();
            w.MtimeSet = false;
        }
        if (w.RecordState != PendingUpload.Writing) WriteRecordLocked(ctx, n, w, PendingUpload.Writing, "being written");
        lock (Table.Sync) n.Revision++;
    }

    /// <summary>Writes the file's record in <paramref name="state"/>.</summary>
    /// <exception cref="FileSystemException">NoSpace or Io when the record cannot be written.</exception>
    public static void WriteRecordLocked(VfsContext ctx, Inode n, FileWriteBack w, string state, string reason)
    {
        string key;
        lock (ctx.Table.Sync)
        {
            // An unlinked file's data is nobody's to recover.
            if (n.Detached) return;
            key = ctx.Table.KeyLocked(n);
        }
        var record = new PendingUpload(ctx.Store.Name, key, reason, ctx.Time.GetUtcNow(), w.RemoteETag)
        {
            State = state,
            ContentType = w.ContentType,
            Encoding = w.Encoding == Codecs.Codec.Identity ? null : Codecs.ContentCodec.HeaderValue(w.Encoding),
            Metadata = w.Metadata is { Count: > 0 } m ? new Dictionary<string, string>(m, StringComparer.Ordinal) : null,
        };
        StagingIo.Run(ctx, $"record the staged data of {key}", () => w.File.WriteRecord(record));
        w.RecordState = state;
        w.RecordKey = key;
    }

    /// <summary>Fills the staging file with the object's bytes (the version seen at open).</summary>
    /// <exception cref="FileSystemException">NoSpace or Io for the local disk; store errors as they come.</exception>
    public async Task HydrateLockedAsync(Inode n, FileWriteBack w, CancellationToken ct)
    {
        if (w.Hydrated) return;
        string key = Table.Key(n);
        StagingIo.Run(ctx, "empty the staging file", () => w.File.SetLength(0));
        await using (var r = await ctx.Store.ReadAsync(key, ByteRange.All, w.RemoteETag, ct).ConfigureAwait(false))
        {
            // An encoded object is edited as its decoded bytes, and stored encoded again (FileWriteBack.Encoding).
            var codec = ctx.Options.Decoding is null ? Codecs.Codec.Identity : Codecs.ContentCodec.Parse(r.Info.ContentEncoding);
            w.Encoding = codec;
            w.Metadata ??= Uploads.CarriedMetadata(r.Info.Metadata);
            w.ContentType ??= r.Info.ContentType;
            var buffer = BufferPool.Shared.Rent(1 << 20);
            try
            {
                await using var body = Codecs.ContentCodec.OpenDecoder(codec, r.Content);
                long offset = 0;
                int got;
                while ((got = await body.ReadAsync(buffer.AsMemory(), ct).ConfigureAwait(false)) > 0)
                {
                    await StagingIo.RunAsync(ctx, $"stage {key}", () => w.File.WriteAsync(offset, buffer.AsMemory(0, got), ct)).ConfigureAwait(false);
                    offset += got;
                }
                if (codec == Codecs.Codec.Identity && offset != w.RemoteSize)
                {
                    throw new InvalidResponseException($"{key}: got {offset} bytes, expected {w.RemoteSize}");
                }
            }
            catch
            {
                StagingIo.TryRun(() => w.File.SetLength(0));
                throw;
            }
            finally
            {
                BufferPool.Shared.Return(buffer);
            }
        }
        w.Hydrated = true;
        if (w.File.Length != w.RemoteSize)
        {
            // A decoded object is longer (or shorter) than the stored bytes the kernel was told about.
            ctx.InvalidateKernelAttributes?.Invoke(n.Ino);
        }
    }

    /// <summary>Writes <paramref name="data"/> at <paramref name="offset"/> (at the end with O_APPEND).</summary>
    /// <exception cref="FileSystemException">NoSpace or Io (the file is then failed), FileTooLarge, or the earlier failure.</exception>
    public async Task WriteLockedAsync(Inode n, FileWriteBack w, long offset, ReadOnlyMemory<byte> data, bool append, CancellationToken ct)
    {
        ThrowIfFailed(w);
        await HydrateLockedAsync(n, w, ct).ConfigureAwait(false);
        bool moved = false;
        if (append && offset != w.File.Length)
        {
            offset = w.File.Length;
            moved = true;
        }
        if (offset + data.Length > ctx.Options.MaxFileBytes)
        {
            throw new FileSystemException(FsError.FileTooLarge, $"{n.Name}: {offset + data.Length} bytes is more than the store's largest object ({ctx.Options.MaxFileBytes} bytes)");
        }
        MarkDirtyLocked(n, w);
        w.HasWrites = true;
        try
        {
            w.File.Write(offset, data.Span);
        }
        catch (IOException e)
        {
            throw Fail(n, w, e);
        }
        if (moved)
        {
            // The kernel set its size from the offset it guessed; have it ask again.
            ctx.InvalidateKernelAttributes?.Invoke(n.Ino);
        }
        uploads.OnWriteLocked(n, w, offset, data.Length);
    }

    /// <summary>Sets the staged length (truncate or extend), fetching the object's bytes first unless it is cut to 0.</summary>
    /// <exception cref="FileSystemException">NoSpace or Io (the file is then failed), FileTooLarge, or the earlier failure.</exception>
    public async Task SetLengthLockedAsync(Inode n, FileWriteBack w, long size, CancellationToken ct)
    {
        ThrowIfFailed(w);
        if (size > ctx.Options.MaxFileBytes)
        {
            throw new FileSystemException(FsError.FileTooLarge, $"{n.Name}: {size} bytes is more than the store's largest object ({ctx.Options.MaxFileBytes} bytes)");
        }
        if (size == 0)
        {
            TruncateLocked(n, w, 0);
            return;
        }
        await HydrateLockedAsync(n, w, ct).ConfigureAwait(false);
        if (size != w.File.Length) TruncateLocked(n, w, size);
    }

    private void TruncateLocked(Inode n, FileWriteBack w, long size)
    {
        ThrowIfFailed(w);
        MarkDirtyLocked(n, w);
        try
        {
            w.File.SetLength(size);
        }
        catch (IOException e)
        {
            throw Fail(n, w, e);
        }
        w.Hydrated = true;
        w.Session?.OnTruncate(size);
    }

    /// <summary>Throws the error of an earlier failed write, if any.</summary>
    public static void ThrowIfFailed(FileWriteBack w)
    {
        if (w.WriteFailure is { } e) throw new FileSystemException(FileSystemException.Classify(e), $"an earlier write to this file failed: {e.Message}", e);
    }

    /// <summary>Marks the file failed after a write to its staging file failed, and logs where.</summary>
    private FileSystemException Fail(Inode n, FileWriteBack w, IOException e)
    {
        w.WriteFailure = e;
        var error = StagingIo.Translate(ctx, e, $"write to {Table.Key(n)}");
        return error;
    }

    /// <summary>
    /// After the last handle is closed: uploads what is still dirty (a file only created or truncated, or one
    /// whose flush was interrupted), discards a failed or unlinked file's staging data, and drops a clean
    /// staging state. Errors are logged; the data and its record stay for recovery.
    /// </summary>
    public async Task OnLastReleaseLockedAsync(Inode n, FileWriteBack w)
    {
        bool detached;
        lock (Table.Sync) detached = n.Detached;
        if (!detached && w.WriteFailure is null && w.Dirty && !w.UploadFailed)
        {
            try
            {
                await uploads.UploadLockedAsync(n, w, CancellationToken.None).ConfigureAwait(false);
            }
            catch (FileSystemException)
            {
                // Logged by the upload; the data and its record stay.
            }
        }
        await TeardownIfIdleLockedAsync(n, w).ConfigureAwait(false);
    }

    /// <summary>
    /// Drops the staging state when no handle is open and nothing is left to upload: clean data is deleted, data
    /// of a failed write or of an unlinked file is discarded (with a log line for a failed write).
    /// </summary>
    public async Task TeardownIfIdleLockedAsync(Inode n, FileWriteBack w)
    {
        bool discard;
        lock (Table.Sync)
        {
            if (n.OpenCount > 0 || n.Write != w) return;
            discard = n.Detached || w.WriteFailure is not null;
            if (w.Dirty && !discard) return; // kept: the upload failed and the record names the key
            n.Write = null;
            n.Revision++;
        }
        if (w.Session is { } session)
        {
            w.Session = null;
            await session.AbortAsync().ConfigureAwait(false);
        }
        if (w.WriteFailure is { } failure && w.Dirty)
        {
            ctx.Logger.LogWarning("{Key}: a write failed ({Error}), so the changes were not stored; the object is as it was", Table.Key(n), failure.Message);
        }
        w.File.Close(delete: true);
        Table.DropIfUnreferenced(n);
    }
}
