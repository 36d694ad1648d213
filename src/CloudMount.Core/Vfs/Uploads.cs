using CloudMount.Core.Storage;
using CloudMount.Core.Writing;
using Microsoft.Extensions.Logging;

namespace CloudMount.Core.Vfs;

/// <summary>
/// Uploads of staged files: streaming multipart uploads started while a large file is written, the upload at
/// flush/close (whole, or completing the streaming one), what an upload stores beside the bytes, and taking
/// the stored object into the inode. Every <c>…Locked</c> method is called with the file's gate held.
/// </summary>
internal sealed class Uploads(VfsContext ctx)
{
    private InodeTable Table => ctx.Table;

    /// <summary>
    /// After a write: starts a streaming multipart upload once a file is two parts long (large files go up while
    /// they are written), or tells the running one which part changed.
    /// </summary>
    public void OnWriteLocked(Inode n, FileWriteBack w, long offset, long length)
    {
        var o = ctx.Options;
        if (w.Session is null && w.Encoding == Codecs.Codec.Identity && ctx.Store.Multipart is { } multipart
            && w.File.Length >= 2 * o.Upload.PartBytes)
        {
            string key = Table.Key(n);
            // The metadata of an upload is fixed when it starts; the times are only known at close, so an object
            // stored this way carries none (its Last-Modified, the moment it was completed, stands for mtime).
            var meta = w.Metadata is { } known ? new Dictionary<string, string>(known, StringComparer.Ordinal) : null;
            if (o.PosixAttributes && ctx.Store.Capabilities.Metadata)
            {
                meta ??= new Dictionary<string, string>(StringComparer.Ordinal);
                PosixFor(n, meta).WriteTo(meta);
            }
            meta = WithoutTimes(meta);
            w.Session = new UploadSession(multipart, key, new ObjectWriteOptions
            {
                ContentType = w.ContentType ?? ContentTypes.ForName(n.Name),
                Metadata = meta is { Count: > 0 } ? meta : null,
            }, w.File.Path, o.Upload.PartBytes, o.Upload.Concurrency, ctx.Logger, ctx.Store.Name);
            w.Session.OnWrite(0, w.File.Length, w.File.Length);
        }
        else
        {
            w.Session?.OnWrite(offset, length, w.File.Length);
        }
    }

    /// <summary>
    /// Uploads the staged file if it is dirty: completes its streaming upload, or writes it whole. Its failure
    /// is what close() returns; the data stays with a record naming the key. Nothing is uploaded from a file
    /// whose write failed, nor from an unlinked one.
    /// </summary>
    /// <exception cref="FileSystemException">Io when the upload failed (after retries); the earlier write failure.</exception>
    public async Task UploadLockedAsync(Inode n, FileWriteBack w, CancellationToken ct)
    {
        WriteBack.ThrowIfFailed(w);
        string key;
        lock (Table.Sync)
        {
            if (!w.Dirty || n.Detached) return;
            key = Table.KeyLocked(n);
        }
        // From here the data is complete: a crash during the upload recovers it to its key.
        if (w.RecordState != PendingUpload.Closed) StagingIo.TryRun(() => WriteBack.WriteRecordLocked(ctx, n, w, PendingUpload.Closed, "being uploaded"));
        ObjectInfo info;
        ObjectWriteOptions written;
        var session = w.Session;
        w.Session = null;
        try
        {
            using var counted = Diagnostics.CloudMountMetrics.UploadStarted();
            written = await OptionsAsync(n, w, key, ct).ConfigureAwait(false);
            if (session is not null && session.Key == key && SameMetadata(session.Options.Metadata, WithoutTimes(written.Metadata)))
            {
                info = await session.CompleteAsync(w.File.Length, ct).ConfigureAwait(false);
                if (w.MtimeSet && written.Metadata is { } timed && !SameMetadata(session.Options.Metadata, timed))
                {
                    // The upload began before utimensat set the file's times: store them now, pinned to this version.
                    info = await ctx.Store.UpdateMetadataAsync(key, session.Options with { Metadata = timed }, info.ETag, ct).ConfigureAwait(false);
                    written = session.Options with { Metadata = timed };
                }
                else
                {
                    written = session.Options;
                }
            }
            else
            {
                // Renamed, or its metadata changed, since the streaming upload began: that upload cannot be it.
                if (session is not null) await session.AbortAsync().ConfigureAwait(false);
                (info, written) = await WriteWholeAsync(key, w, written, ct).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            w.UploadFailed = true;
            ctx.Logger.LogError("upload of {Key} to {Store} failed: {Error}; the data is kept in {Path}", key, ctx.Store.Name, e.Message, w.File.Path);
            StagingIo.TryRun(() => WriteBack.WriteRecordLocked(ctx, n, w, PendingUpload.Closed, $"upload failed: {e.Message}"));
            throw new FileSystemException(FsError.Io, $"upload of {key} failed: {e.Message}", e);
        }
        catch (OperationCanceledException) when (session is not null)
        {
            // Interrupted: the streaming upload is gone; the next flush or the release writes the file whole.
            await session.AbortAsync().ConfigureAwait(false);
            throw;
        }
        Stored(n, w, info, written);
    }

    /// <summary>Takes a successful upload into the write-back state and the inode, and removes the record.</summary>
    private void Stored(Inode n, FileWriteBack w, ObjectInfo info, ObjectWriteOptions written)
    {
        w.Dirty = false;
        w.HasWrites = false;
        w.UploadFailed = false;
        w.RemoteSize = info.Size;
        w.RemoteETag = info.ETag;
        StagingIo.TryRun(w.File.DeleteRecord);
        w.RecordState = null;
        lock (Table.Sync)
        {
            n.LocalOnly = false;
            n.Revision++;
            n.Encoding = w.Encoding;
            n.EncodingETag = info.ETag;
            n.DecodedSize = w.File.Length;
            n.Size = info.Size;
            n.ETag = info.ETag;
            n.Mtime = info.LastModified;
            n.KernelCacheETag = info.ETag;
            n.Head = info with { ContentType = written.ContentType, ContentEncoding = written.ContentEncoding, Metadata = written.Metadata };
            if (n.Parent is { } p && !n.Detached)
            {
                ctx.Views.RecordLocked(p, n.Name, new ChildEntry(n.Kind, n.Size, n.ETag, n.Mtime, n.Head, n.DecodedSize));
            }
        }
    }

    /// <summary>A copy of the metadata without the POSIX times (they differ between the start and the end of an upload).</summary>
    private static Dictionary<string, string>? WithoutTimes(IReadOnlyDictionary<string, string>? meta)
    {
        if (meta is null) return null;
        var d = new Dictionary<string, string>(meta, StringComparer.Ordinal);
        d.Remove(PosixMetadata.MtimeKey);
        d.Remove(PosixMetadata.CtimeKey);
        d.Remove(PosixMetadata.AtimeKey);
        return d;
    }

    /// <summary>The POSIX attributes an upload of <paramref name="n"/> stores: its kind, permissions and owner as known, defaults otherwise.</summary>
    private PosixMetadata PosixFor(Inode n, IReadOnlyDictionary<string, string> meta)
    {
        var posix = PosixMetadata.Parse(meta);
        uint perm = posix.Permissions ?? (n.Kind == NodeKind.Symlink ? 0x1FFu : ctx.Options.FileMode);
        return posix with { Mode = NodeKinds.TypeBits(n.Kind) | perm, Uid = posix.Uid ?? ctx.Options.Uid, Gid = posix.Gid ?? ctx.Options.Gid };
    }

    private static bool SameMetadata(IReadOnlyDictionary<string, string>? a, IReadOnlyDictionary<string, string>? b)
    {
        if ((a?.Count ?? 0) != (b?.Count ?? 0)) return false;
        if (a is null || b is null) return true;
        return a.All(kv => b.TryGetValue(kv.Key, out var v) && v == kv.Value);
    }

    /// <summary>
    /// What an upload stores beside the bytes: the Content-Type and user metadata of the object it replaces (or the
    /// name's type), changes made since, and (<see cref="VfsOptions.PosixAttributes"/>, the default, on a store
    /// with metadata) the file's mode, uid, gid, mtime and ctime (<see cref="PosixMetadata"/>), at no extra request.
    /// </summary>
    private async Task<ObjectWriteOptions> OptionsAsync(Inode n, FileWriteBack w, string key, CancellationToken ct)
    {
        var meta = w.Metadata is { } m ? new Dictionary<string, string>(m, StringComparer.Ordinal) : null;
        if (ctx.Options.PosixAttributes && ctx.Store.Capabilities.Metadata)
        {
            meta ??= await KnownMetadataAsync(n, w, ct).ConfigureAwait(false);
            (PosixFor(n, meta) with { Mtime = w.Mtime, Ctime = ctx.Time.GetUtcNow() }).WriteTo(meta);
        }
        else if (meta is not null && meta.ContainsKey(PosixMetadata.MtimeKey))
        {
            // New bytes: an mtime kept by s3fs or rclone must not claim the old time.
            meta[PosixMetadata.MtimeKey] = PosixMetadata.FormatTime(w.Mtime);
        }
        return new ObjectWriteOptions
        {
            ContentType = w.ContentType ?? ContentTypes.ForName(key),
            Metadata = meta is { Count: > 0 } ? meta : null,
        };
    }

    /// <summary>Uploads a staged file whole, encoded as <see cref="FileWriteBack.Encoding"/> says (or as stored).</summary>
    /// <returns>The new object, and the options it was written with (an encoding adds Content-Encoding and the decoded length).</returns>
    private async Task<(ObjectInfo Info, ObjectWriteOptions Written)> WriteWholeAsync(string key, FileWriteBack w, ObjectWriteOptions options, CancellationToken ct)
    {
        if (w.Encoding == Codecs.Codec.Identity)
        {
            return (await ObjectWriter.WriteAsync(ctx.Store, key, ObjectContent.FromFile(w.File.Path), options, ctx.Options.Upload, ct).ConfigureAwait(false), options);
        }
        var (encoded, encodedOptions) = await Codecs.Encoder.EncodeAsync(ObjectContent.FromFile(w.File.Path), w.Encoding, ctx.Options.Compression.Level,
            options, ctx.Staging.Directory, ct).ConfigureAwait(false);
        try
        {
            return (await ObjectWriter.WriteAsync(ctx.Store, key, ObjectContent.FromFile(encoded), encodedOptions, ctx.Options.Upload, ct).ConfigureAwait(false), encodedOptions);
        }
        finally
        {
            File.Delete(encoded);
        }
    }

    /// <summary>The user metadata the object a staged file replaces had (a HEAD if needed), to carry across the rewrite.</summary>
    public async Task<Dictionary<string, string>> KnownMetadataAsync(Inode n, FileWriteBack w, CancellationToken ct)
    {
        ObjectInfo? head;
        bool localOnly;
        lock (Table.Sync)
        {
            head = n.Head is { } h && h.ETag == w.RemoteETag ? h : null;
            localOnly = n.LocalOnly;
        }
        if (head is null && w.RemoteETag is not null && !localOnly)
        {
            head = await ctx.Store.HeadAsync(Table.Key(n), ct).ConfigureAwait(false);
        }
        return CarriedMetadata(head?.Metadata);
    }

    /// <summary>User metadata a rewrite keeps: all but what describes the old bytes (the decoded length).</summary>
    public static Dictionary<string, string> CarriedMetadata(IReadOnlyDictionary<string, string>? old)
    {
        var meta = new Dictionary<string, string>(StringComparer.Ordinal);
        if (old is null) return meta;
        foreach (var (k, v) in old)
        {
            if (k != Codecs.ContentCodec.DecodedLengthMetadata) meta[k] = v;
        }
        return meta;
    }
}
