using CloudMount.Core.Reading;
using CloudMount.Core.Storage;
using CloudMount.Core.Writing;
using Microsoft.Extensions.Logging;

namespace CloudMount.Core.Vfs;

public sealed partial class CloudFileSystem
{
    /// <summary>
    /// Opens a file. Close-to-open: when the cached attributes have expired, the object is checked (HEAD) so the
    /// reader gets the current version, whose ETag is then pinned for every read through this handle. The kernel
    /// keeps its cached pages (keep_cache) only when the ETag is the one they came from.
    /// </summary>
    /// <exception cref="FileSystemException">IsDirectory, ReadOnly, NotFound (gone since lookup).</exception>
    public async ValueTask<OpenReply> OpenAsync(ulong ino, OpenFlags flags, CancellationToken cancellationToken)
    {
        var n = GetInode(ino);
        if (n.IsDirectory)
        {
            throw new FileSystemException(FsError.IsDirectory, "is a directory");
        }
        bool write = (flags & OpenFlags.Write) != 0;
        if (write || (flags & OpenFlags.Truncate) != 0)
        {
            ThrowIfReadOnly();
        }
        bool stale;
        lock (_lock) stale = n.Write is null && !n.LocalOnly && !n.Detached && !IsFreshLocked(n);
        if (stale)
        {
            await RefreshFileAsync(n, cancellationToken).ConfigureAwait(false);
        }
        if (write)
        {
            await PrepareWriteStateAsync(n, truncate: (flags & OpenFlags.Truncate) != 0, cancellationToken).ConfigureAwait(false);
        }
        var (reader, decoded, directIo) = await PrepareReadAsync(n, cancellationToken).ConfigureAwait(false);
        // O_APPEND writes land at our end of the file (libfuse: without writeback caching the filesystem handles
        // O_APPEND), which for an encoded object is its decoded length, not the stored size the kernel may hold.
        // Direct I/O keeps the kernel's page cache from holding those bytes at the offset it guessed.
        if (write && (flags & OpenFlags.Append) != 0 && _options.Decoding is not null)
        {
            directIo = true;
        }
        lock (_lock)
        {
            bool keepCache = n.Write is null && n.ETag is not null && n.KernelCacheETag == n.ETag;
            if (n.Write is null)
            {
                n.KernelCacheETag = n.ETag;
            }
            n.OpenCount++;
            var handle = new FileHandle(n, flags, n.ETag, n.Size) { Reader = reader, Decoded = decoded };
            ulong fh = (ulong)Interlocked.Increment(ref _nextHandle);
            _files[fh] = handle;
            return new OpenReply(fh, keepCache, directIo);
        }
    }

    /// <summary>
    /// Decides how an opened file is read. With decoding on, an object whose encoding is not yet known is found
    /// out before the kernel reads: from the disk cache's record, else from the answer to the first range GET
    /// (the request the first read needs anyway, so a plain object costs nothing more). An encoded object is then
    /// read from its decoded copy, and the kernel is told its decoded size, or reads it as a stream (direct I/O)
    /// when no size can be known up front.
    /// </summary>
    private async Task<(Prefetcher? Reader, Codecs.DecodedCopy? Decoded, bool DirectIo)> PrepareReadAsync(Inode n, CancellationToken ct)
    {
        if (_options.Decoding is not { } decoding) return (null, null, false);
        string key;
        string? etag;
        long size;
        Codecs.Codec? codec;
        lock (_lock)
        {
            if (n.Write is not null || n.LocalOnly || n.Detached) return (null, null, false);
            key = DirectoryPrefixLocked(n.Parent!) + n.Name;
            etag = n.ETag;
            size = n.Size;
            codec = n.EncodingETag == etag ? n.Encoding : null;
        }
        if (etag is null || size == 0) return (null, null, false);
        if (codec is null && _options.Caches?.Disk is { } disk && disk.TryGetEncoding(new Caching.ObjectVersion(_store.Name, key, etag, size), out var cached))
        {
            codec = Codecs.ContentCodec.Parse(cached);
        }
        Prefetcher? probe = null;
        ObjectInfo? stored = null;
        if (codec is null)
        {
            probe = new Prefetcher(_store, () => FileKey(n), etag, size, _options.ReadAhead, _logger, _options.Caches);
            try
            {
                stored = await probe.StartAsync(ct).ConfigureAwait(false);
            }
            catch
            {
                await probe.DisposeAsync().ConfigureAwait(false);
                throw;
            }
            codec = stored is null ? Codecs.Codec.Identity : Codecs.ContentCodec.Parse(stored.ContentEncoding);
            if (stored is not null) LearnFromRead(n, stored);
        }
        lock (_lock)
        {
            if (n.ETag == etag)
            {
                n.Encoding = codec;
                n.EncodingETag = etag;
            }
        }
        if (codec == Codecs.Codec.Identity) return (probe, null, false);

        if (probe is not null) await probe.DisposeAsync().ConfigureAwait(false);
        stored ??= await _store.HeadAsync(key, ct).ConfigureAwait(false) ?? throw NotFound(n.Name);
        var copy = decoding.Acquire(stored);
        long? decodedSize = await copy.SizeHint.WaitAsync(ct).ConfigureAwait(false);
        SetDecodedSize(n, etag, decodedSize);
        // A pass that ends at another size (a multi-member gzip, several zstd frames) corrects it.
        _ = copy.Completion.ContinueWith(t => SetDecodedSize(n, etag, t.Result), CancellationToken.None,
            TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
        // The kernel's page cache ends a file at its size, so only a size known for certain may bound reads: the
        // metadata CloudMount wrote, or a finished decode. A gzip ISIZE or a zstd frame header describes one member
        // or frame; until the decode has run to its end, the file is read as a stream (direct I/O).
        bool certain = copy.Completion.IsCompletedSuccessfully || Codecs.DecodedSizeProbe.FromMetadata(stored) is not null;
        return (null, copy, !certain);
    }

    /// <summary>Records an encoded object's decoded size and tells the kernel if what it showed changes.</summary>
    private void SetDecodedSize(Inode n, string etag, long? decoded)
    {
        bool changed;
        lock (_lock)
        {
            if (n.ETag != etag || decoded is null || n.DecodedSize == decoded) return;
            long before = AttributesLocked(n).Size;
            n.DecodedSize = decoded;
            changed = AttributesLocked(n).Size != before;
        }
        if (changed) InvalidateKernelAttributes?.Invoke(n.Ino);
    }

    /// <summary>Gives a file a staging state if it has none; with <paramref name="truncate"/>, an empty, dirty one.</summary>
    private async Task PrepareWriteStateAsync(Inode n, bool truncate, CancellationToken ct)
    {
        WriteState? w;
        lock (_lock)
        {
            w = n.Write;
            if (w is null)
            {
                bool empty = truncate || n.LocalOnly || n.Size == 0;
                // Rewritten content keeps the object's encoding; a file hydrated from the store learns it then.
                var encoding = _options.Decoding is null ? Codecs.Codec.Identity
                    : n.EncodingETag == n.ETag && n.Encoding is { } known ? known : _options.Compression.For(n.Name);
                var head = n.HeadIsCurrent ? n.Head : null;
                w = new WriteState(_staging.Create(), hydrated: empty, n.Size, n.ETag)
                {
                    Mtime = AttributesLocked(n).Mtime,
                    Encoding = encoding,
                    Metadata = head is null ? null : CarriedMetadata(head.Metadata),
                    ContentType = head?.ContentType,
                };
                n.Write = w;
                if (!truncate) return;
            }
        }
        if (truncate)
        {
            await w.Gate.WaitAsync(ct).ConfigureAwait(false);
            try
            {
                w.File.SetLength(0);
                w.Session?.OnTruncate(0);
                w.Hydrated = true;
                w.Dirty = true;
                w.Mtime = _time.GetUtcNow();
            }
            finally
            {
                w.Gate.Release();
            }
        }
    }

    private FileHandle GetHandle(ulong fh) =>
        _files.TryGetValue(fh, out var h) ? h : throw new FileSystemException(FsError.BadHandle, $"unknown file handle {fh}");

    /// <summary>
    /// Reads up to <c>destination.Length</c> bytes at <paramref name="offset"/>, copying them (see
    /// <see cref="LeaseAsync"/> for the copy-free form the FUSE adapter uses).
    /// </summary>
    /// <returns>Bytes read; fewer than asked only at the end of the file.</returns>
    /// <exception cref="FileSystemException">BadHandle.</exception>
    /// <exception cref="PreconditionFailedException">The object changed since open (ESTALE).</exception>
    public async ValueTask<int> ReadAsync(ulong fh, long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        using var lease = await LeaseAsync(fh, offset, destination.Length, cancellationToken).ConfigureAwait(false);
        return lease.CopyTo(destination.Span);
    }

    /// <summary>
    /// Reads up to <paramref name="count"/> bytes at <paramref name="offset"/> as a lease of pooled buffers: staged
    /// files are read locally into one; others are served from the handle's read-ahead parts without copying,
    /// pinned to the ETag seen at open. Dispose the lease after replying.
    /// </summary>
    /// <exception cref="FileSystemException">BadHandle.</exception>
    /// <exception cref="PreconditionFailedException">The object changed since open (ESTALE).</exception>
    public async ValueTask<ReadLease> LeaseAsync(ulong fh, long offset, int count, CancellationToken cancellationToken)
    {
        var h = GetHandle(fh);
        var n = h.Inode;
        WriteState? w;
        lock (_lock) w = n.Write;
        if (w is not null)
        {
            if (!w.Hydrated)
            {
                await w.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
                try
                {
                    await HydrateAsync(n, w, cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    w.Gate.Release();
                }
            }
            var buffer = BufferPool.Shared.Rent(count);
            int got = w.File.Read(offset, buffer.AsSpan());
            return new ReadLease([buffer.Slice(0, got)], () => BufferPool.Shared.Return(buffer));
        }
        if (h.Decoded is { } copy)
        {
            await copy.WaitForAsync(offset + count, cancellationToken).ConfigureAwait(false);
            var decodedBuffer = BufferPool.Shared.Rent(count);
            int read = copy.Read(offset, decodedBuffer.AsSpan());
            return new ReadLease([decodedBuffer.Slice(0, read)], () => BufferPool.Shared.Return(decodedBuffer));
        }
        if (h.Size == 0)
        {
            return ReadLease.Empty;
        }
        Prefetcher reader;
        lock (h.Sync)
        {
            reader = h.Reader ??= new Prefetcher(_store, () => FileKey(n), h.ETag, h.Size, _options.ReadAhead, _logger, _options.Caches);
        }
        return await reader.LeaseAsync(offset, count, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Fills the staging file with the object's bytes (the version seen at open). Caller holds the gate.</summary>
    private async Task HydrateAsync(Inode n, WriteState w, CancellationToken ct)
    {
        if (w.Hydrated) return;
        string key = FileKey(n);
        await using (var r = await _store.ReadAsync(key, ByteRange.All, w.RemoteETag, ct).ConfigureAwait(false))
        {
            var buffer = BufferPool.Shared.Rent(1 << 20);
            // An encoded object is edited as its decoded bytes, and stored encoded again (WriteState.Encoding).
            var codec = _options.Decoding is null ? Codecs.Codec.Identity : Codecs.ContentCodec.Parse(r.Info.ContentEncoding);
            w.Encoding = codec;
            lock (_lock)
            {
                w.Metadata ??= CarriedMetadata(r.Info.Metadata);
                w.ContentType ??= r.Info.ContentType;
            }
            await using var body = Codecs.ContentCodec.OpenDecoder(codec, r.Content);
            try
            {
                long offset = 0;
                int got;
                while ((got = await body.ReadAsync(buffer.AsMemory(), ct).ConfigureAwait(false)) > 0)
                {
                    await w.File.WriteAsync(offset, buffer.AsMemory(0, got), ct).ConfigureAwait(false);
                    offset += got;
                }
                if (codec == Codecs.Codec.Identity && offset != w.RemoteSize)
                {
                    w.File.SetLength(0);
                    throw new InvalidResponseException($"{key}: got {offset} bytes, expected {w.RemoteSize}");
                }
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
            InvalidateKernelAttributes?.Invoke(n.Ino);
        }
    }

    /// <summary>Writes into the staging file (fetching the object's bytes first if the file was not truncated).</summary>
    /// <returns>Bytes written (all of them).</returns>
    /// <exception cref="FileSystemException">BadHandle when the handle was not opened for writing.</exception>
    public async ValueTask<int> WriteAsync(ulong fh, long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        var h = GetHandle(fh);
        if (!h.CanWrite)
        {
            throw new FileSystemException(FsError.BadHandle, "file not open for writing");
        }
        var w = h.Inode.Write ?? throw new FileSystemException(FsError.BadHandle, "no staging state");
        await w.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await HydrateAsync(h.Inode, w, cancellationToken).ConfigureAwait(false);
            bool moved = false;
            if ((h.Flags & OpenFlags.Append) != 0 && offset != w.File.Length)
            {
                offset = w.File.Length;
                moved = true;
            }
            w.File.Write(offset, data.Span);
            if (moved)
            {
                // The kernel set its size from the offset it guessed; have it ask again.
                InvalidateKernelAttributes?.Invoke(h.Inode.Ino);
            }
            w.Dirty = true;
            w.HasWrites = true;
            w.Mtime = _time.GetUtcNow();
            // With POSIX attributes the mtime metadata is only known at close, so such files go up then.
            if (w.Session is null && w.Encoding == Codecs.Codec.Identity && !_options.PosixAttributes && _store.Multipart is { } multipart
                && w.File.Length >= 2 * _options.Upload.PartBytes)
            {
                // Large file: start sending parts while the rest is still being written.
                w.Session = new UploadSession(multipart, FileKey(h.Inode),
                    new ObjectWriteOptions { ContentType = w.ContentType ?? ContentTypes.ForName(h.Inode.Name), Metadata = w.Metadata is { Count: > 0 } m ? new Dictionary<string, string>(m) : null },
                    w.File.Path, _options.Upload.PartBytes, _options.Upload.Concurrency, _logger);
                w.Session.OnWrite(0, w.File.Length, w.File.Length);
            }
            else
            {
                w.Session?.OnWrite(offset, data.Length, w.File.Length);
            }
        }
        finally
        {
            w.Gate.Release();
        }
        return data.Length;
    }

    /// <summary>
    /// Called on every close() of a descriptor: uploads the file if it has changes. Its failure is what close()
    /// returns, and the staging file is kept. A file that was only created or truncated to empty, with nothing
    /// written yet, is left for the last close (release): a shell redirect (<c>echo x &gt; f</c>) closes a
    /// duplicate of the descriptor before writing, which would otherwise store an empty object first.
    /// </summary>
    /// <exception cref="FileSystemException">Io when the upload failed (after retries).</exception>
    public ValueTask FlushAsync(ulong fh, CancellationToken cancellationToken)
    {
        var n = GetHandle(fh).Inode;
        if (n.Write is { HasWrites: false } w && w.Hydrated && w.File.Length == 0)
        {
            return ValueTask.CompletedTask;
        }
        return new(UploadIfDirtyAsync(n, cancellationToken));
    }

    /// <summary>fsync: uploads whatever changed, empty files included.</summary>
    /// <exception cref="FileSystemException">Io when the upload failed.</exception>
    public ValueTask FsyncAsync(ulong fh, CancellationToken cancellationToken) =>
        new(UploadIfDirtyAsync(GetHandle(fh).Inode, cancellationToken));

    private async Task UploadIfDirtyAsync(Inode n, CancellationToken ct)
    {
        var w = n.Write;
        if (w is null) return;
        await w.Gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            await UploadLockedAsync(n, w, ct).ConfigureAwait(false);
        }
        finally
        {
            w.Gate.Release();
        }
    }

    /// <summary>Uploads the staging file if dirty. Caller holds the gate.</summary>
    private async Task UploadLockedAsync(Inode n, WriteState w, CancellationToken ct)
    {
        bool detached;
        lock (_lock) detached = n.Detached;
        if (!w.Dirty || detached) return;
        string key = FileKey(n);
        ObjectInfo info;
        var session = w.Session;
        w.Session = null;
        ObjectWriteOptions written;
        try
        {
            using var counted = Diagnostics.CloudMountMetrics.UploadStarted();
            written = await UploadOptionsAsync(n, w, key, ct).ConfigureAwait(false);
            if (session is not null && session.Key == key)
            {
                info = await session.CompleteAsync(w.File.Length, ct).ConfigureAwait(false);
            }
            else
            {
                if (session is not null) await session.AbortAsync().ConfigureAwait(false); // renamed since it began
                (info, written) = await WriteWholeAsync(key, w, written, ct).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            w.UploadFailed = true;
            w.File.WriteSidecar(_store.Name, key, e.Message, w.RemoteETag);
            _logger.LogError("upload of {Key} to {Store} failed: {Error}; the data is kept in {Path}", key, _store.Name, e.Message, w.File.Path);
            throw new FileSystemException(FsError.Io, $"upload of {key} failed: {e.Message}", e);
        }
        w.Dirty = false;
        w.HasWrites = false;
        w.UploadFailed = false;
        w.RemoteSize = info.Size;
        w.RemoteETag = info.ETag;
        lock (_lock)
        {
            n.LocalOnly = false;
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
                SetListingEntryLocked(p, n.Name, new ChildEntry(n.Kind, n.Size, n.ETag, n.Mtime, n.Head, n.DecodedSize));
            }
        }
    }

    /// <summary>
    /// What an upload stores beside the bytes: the Content-Type and user metadata of the object it replaces (or the
    /// name's type), changes made since, and with <see cref="VfsOptions.PosixAttributes"/> the file's mtime, mode,
    /// uid and gid (<see cref="PosixMetadata"/>).
    /// </summary>
    private async Task<ObjectWriteOptions> UploadOptionsAsync(Inode n, WriteState w, string key, CancellationToken ct)
    {
        Dictionary<string, string>? meta;
        lock (_lock) meta = w.Metadata is { } m ? new Dictionary<string, string>(m, StringComparer.Ordinal) : null;
        if (_options.PosixAttributes)
        {
            if (meta is null && _store.Capabilities.Metadata) meta = await KnownMetadataAsync(n, w, ct).ConfigureAwait(false);
            meta ??= new Dictionary<string, string>(StringComparer.Ordinal);
            var posix = PosixMetadata.Parse(meta);
            uint type = n.Kind == NodeKind.Symlink ? PosixMetadata.SymlinkType : PosixMetadata.RegularType;
            new PosixMetadata(w.Mtime, type | (posix.Permissions ?? (n.Kind == NodeKind.Symlink ? 0x1FFu : _options.FileMode)),
                posix.Uid ?? _options.Uid, posix.Gid ?? _options.Gid).WriteTo(meta);
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

    /// <summary>Uploads a staged file whole, encoded as <see cref="WriteState.Encoding"/> says (or as stored).</summary>
    /// <returns>The new object, and the options it was written with (an encoding adds Content-Encoding and the decoded length).</returns>
    private async Task<(ObjectInfo Info, ObjectWriteOptions Written)> WriteWholeAsync(string key, WriteState w, ObjectWriteOptions options, CancellationToken ct)
    {
        if (w.Encoding == Codecs.Codec.Identity)
        {
            return (await ObjectWriter.WriteAsync(_store, key, ObjectContent.FromFile(w.File.Path), options, _options.Upload, ct).ConfigureAwait(false), options);
        }
        var (encoded, encodedOptions) = await Codecs.Encoder.EncodeAsync(ObjectContent.FromFile(w.File.Path), w.Encoding, _options.Compression.Level,
            options, _staging.Directory, ct).ConfigureAwait(false);
        try
        {
            return (await ObjectWriter.WriteAsync(_store, key, ObjectContent.FromFile(encoded), encodedOptions, _options.Upload, ct).ConfigureAwait(false), encodedOptions);
        }
        finally
        {
            File.Delete(encoded);
        }
    }

    /// <summary>
    /// The last close of a handle: stops its read-ahead; when no handle is left, discards the staging file unless
    /// it holds data that did not upload (that file and its sidecar stay for recovery).
    /// </summary>
    public async ValueTask ReleaseAsync(ulong fh)
    {
        if (!_files.TryRemove(fh, out var h)) return;
        if (h.Reader is { } r)
        {
            await r.DisposeAsync().ConfigureAwait(false);
        }
        if (h.Decoded is { } copy)
        {
            _options.Decoding?.Release(copy);
        }
        var n = h.Inode;
        WriteState? w;
        lock (_lock)
        {
            n.OpenCount--;
            if (n.OpenCount > 0) return;
            w = n.Write;
        }
        if (w is null)
        {
            ForgetIfUnreferenced(n);
            return;
        }
        await w.Gate.WaitAsync().ConfigureAwait(false);
        try
        {
            bool detached;
            lock (_lock) detached = n.Detached;
            if (!detached && w.Dirty && !w.HasWrites)
            {
                // Created or truncated and closed without a write: store the empty file now (see FlushAsync).
                try
                {
                    await UploadLockedAsync(n, w, CancellationToken.None).ConfigureAwait(false);
                }
                catch (FileSystemException)
                {
                    // Logged and kept with a sidecar by the upload.
                }
            }
            if (detached && w.Session is { } orphan)
            {
                // Unlinked while written: its parts must not linger in the store.
                w.Session = null;
                await orphan.AbortAsync().ConfigureAwait(false);
            }
            lock (_lock)
            {
                if (n.OpenCount > 0 || n.Write != w) return;
                if (w.Dirty && !n.Detached)
                {
                    return; // kept: the upload failed and the sidecar names the key
                }
                n.Write = null;
            }
            w.File.Close(delete: true);
        }
        finally
        {
            w.Gate.Release();
        }
        ForgetIfUnreferenced(n);
    }

    private void ForgetIfUnreferenced(Inode n)
    {
        lock (_lock)
        {
            if (n.Lookups <= 0 && n.OpenCount == 0 && n.Write is null && n.Ino != RootIno)
            {
                _inodes.Remove(n.Ino);
            }
        }
    }

    /// <summary>Creates and opens a new, empty file; it exists locally until its first flush uploads it.</summary>
    /// <exception cref="FileSystemException">ReadOnly, NotDirectory, NameTooLong, Exists (with O_EXCL).</exception>
    public async ValueTask<(EntryReply Entry, OpenReply Open)> CreateAsync(ulong parent, string name, OpenFlags flags, CancellationToken cancellationToken)
    {
        ThrowIfReadOnly();
        KeyNames.Validate(name);
        var dir = GetDirectory(parent);
        if ((flags & OpenFlags.Exclusive) != 0)
        {
            await ThrowIfExistsAsync(dir, name, cancellationToken).ConfigureAwait(false);
        }
        lock (_lock)
        {
            if (dir.Children?.TryGetValue(name, out var existing) == true)
            {
                if (existing.IsDirectory) throw new FileSystemException(FsError.IsDirectory, $"{name} is a directory");
                DetachLocked(existing);
            }
            var now = _time.GetUtcNow();
            var n = UpsertChildLocked(dir, name, new ChildEntry(NodeKind.File, 0, null, now));
            n.LocalOnly = true;
            n.Write = new WriteState(_staging.Create(), hydrated: true, 0, null) { Dirty = true, Mtime = now, Encoding = _options.Compression.For(name) };
            n.OpenCount++;
            ulong fh = (ulong)Interlocked.Increment(ref _nextHandle);
            _files[fh] = new FileHandle(n, flags | OpenFlags.Write, null, 0);
            _meta.ClearMissing(DirectoryPrefixLocked(dir) + name);
            return (EntryLocked(n), new OpenReply(fh, false, false));
        }
    }

    /// <summary>
    /// Changes attributes. Size truncates or extends through the staging file (uploaded at once when no handle is
    /// open, otherwise at flush). With <see cref="VfsOptions.PosixAttributes"/>, mtime, mode, uid and gid of a file
    /// are stored in its metadata (<see cref="PosixMetadata"/>; a copy of the object onto itself, or with the
    /// pending upload); otherwise mtime is kept in memory and mode, owner and atime are accepted and not stored.
    /// </summary>
    /// <exception cref="FileSystemException">ReadOnly for a size change on a read-only mount; IsDirectory for a size change on a directory.</exception>
    public async ValueTask<NodeAttributes> SetAttrAsync(ulong ino, SetAttributes changes, ulong? fh, CancellationToken cancellationToken)
    {
        var n = GetInode(ino);
        if (changes.Size is { } size)
        {
            ThrowIfReadOnly();
            if (n.IsDirectory) throw new FileSystemException(FsError.IsDirectory, "is a directory");
            await PrepareWriteStateAsync(n, truncate: size == 0, cancellationToken).ConfigureAwait(false);
            var w = n.Write!;
            await w.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                if (size != 0)
                {
                    await HydrateAsync(n, w, cancellationToken).ConfigureAwait(false);
                    if (size != w.File.Length)
                    {
                        w.File.SetLength(size);
                        w.Session?.OnTruncate(size);
                        w.Dirty = true;
                        w.Mtime = _time.GetUtcNow();
                    }
                }
                bool open;
                lock (_lock) open = n.OpenCount > 0;
                if (!open)
                {
                    await UploadLockedAsync(n, w, cancellationToken).ConfigureAwait(false);
                    lock (_lock)
                    {
                        if (!w.Dirty) n.Write = null;
                    }
                    if (!w.Dirty) w.File.Close(delete: true);
                }
            }
            finally
            {
                w.Gate.Release();
            }
        }
        bool posix = _options.PosixAttributes && !n.IsDirectory
            && (changes.Mode is not null || changes.Uid is not null || changes.Gid is not null || changes.Mtime is not null);
        if (posix)
        {
            ThrowIfReadOnly();
            DateTimeOffset shown;
            lock (_lock)
            {
                shown = AttributesLocked(n).Mtime;
                if (changes.Mtime is { } t && n.Write is { } w) w.Mtime = t;
            }
            await ChangeMetadataAsync(ino, meta =>
            {
                var old = PosixMetadata.Parse(meta);
                uint type = n.Kind == NodeKind.Symlink ? PosixMetadata.SymlinkType : PosixMetadata.RegularType;
                uint permissions = changes.Mode is { } m ? m & 0xFFF : old.Permissions ?? _options.FileMode;
                new PosixMetadata(changes.Mtime ?? old.Mtime ?? shown, type | permissions,
                    changes.Uid ?? old.Uid ?? _options.Uid, changes.Gid ?? old.Gid ?? _options.Gid).WriteTo(meta);
            }, cancellationToken).ConfigureAwait(false);
            lock (_lock) return AttributesLocked(n);
        }
        lock (_lock)
        {
            if (changes.Mtime is { } mtime)
            {
                if (n.Write is { } w) w.Mtime = mtime;
                n.Mtime = mtime;
            }
            return AttributesLocked(n);
        }
    }
}
