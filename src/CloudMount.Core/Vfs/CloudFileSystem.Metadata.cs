using CloudMount.Core.Storage;

namespace CloudMount.Core.Vfs;

/// <summary>Object metadata: HEADs for exact attributes, and the extended attributes that show metadata.</summary>
public sealed partial class CloudFileSystem
{
    /// <summary>HEADs made at once while filling a listing's attributes (<see cref="VfsOptions.ExactAttributes"/>).</summary>
    private const int ParallelHeads = 16;

    private bool ExactAttributes => _options.ExactAttributes || _options.PosixAttributes;

    /// <summary>The entry a HEAD answer describes: a symlink when its <c>mode</c> says so, else a file.</summary>
    private static ChildEntry EntryFromHead(ObjectInfo head, long? decodedSize) =>
        new(PosixMetadata.Parse(head.Metadata).IsSymlink ? NodeKind.Symlink : NodeKind.File, head.Size, head.ETag, head.LastModified, head, decodedSize);

    /// <summary>The decoded size of an encoded object, when decoding is on and it can be found cheaply; else <c>null</c>.</summary>
    private async Task<long?> ProbeDecodedSizeAsync(ObjectInfo head, CancellationToken ct)
    {
        if (_options.Decoding is null || Codecs.ContentCodec.Parse(head.ContentEncoding) == Codecs.Codec.Identity) return null;
        try
        {
            return await Codecs.DecodedSizeProbe.ProbeAsync(_store, head, readZstdHeader: true, ct).ConfigureAwait(false);
        }
        catch (ObjectStoreException e) when (!IsUnreachable(e))
        {
            return null; // the object changed since the HEAD; the next look finds the new version
        }
    }

    /// <summary>HEADs one listed object and returns its entry with metadata, or <c>null</c> when it is gone.</summary>
    private async Task<ChildEntry?> HeadEntryAsync(string key, CancellationToken ct)
    {
        var head = await _store.HeadAsync(key, ct).ConfigureAwait(false);
        if (head is null) return null;
        return EntryFromHead(head, await ProbeDecodedSizeAsync(head, ct).ConfigureAwait(false));
    }

    /// <summary>
    /// Completes a fresh listing's file entries with metadata: entries whose version the previous listing had
    /// already HEADed keep that answer; with <see cref="VfsOptions.ExactAttributes"/>, the others are HEADed
    /// (<see cref="ParallelHeads"/> at once). Entries found gone meanwhile are dropped.
    /// </summary>
    private async Task AddHeadsAsync(string prefix, Dictionary<string, ChildEntry> entries, Dictionary<string, ChildEntry>? previous, CancellationToken ct)
    {
        var missing = new List<string>();
        foreach (var (name, e) in entries)
        {
            if (e.Kind == NodeKind.Directory || e.Head is not null) continue;
            if (previous is not null && previous.TryGetValue(name, out var old) && old.Head is { } head && e.Matches(head))
            {
                entries[name] = e with { Kind = old.Kind, Head = head, DecodedSize = old.DecodedSize };
            }
            else
            {
                missing.Add(name);
            }
        }
        if (!ExactAttributes || missing.Count == 0) return;
        var found = new ChildEntry?[missing.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, missing.Count), new ParallelOptions { MaxDegreeOfParallelism = ParallelHeads, CancellationToken = ct },
            async (i, token) => found[i] = await HeadEntryAsync(prefix + missing[i], token).ConfigureAwait(false)).ConfigureAwait(false);
        for (int i = 0; i < missing.Count; i++)
        {
            if (found[i] is { } e) entries[missing[i]] = e;
            else entries.Remove(missing[i]);
        }
    }

    /// <summary>The object's metadata for the version the inode shows, HEADing it when not known.</summary>
    /// <exception cref="FileSystemException">NotFound when the object is gone.</exception>
    private async Task<ObjectInfo> EnsureHeadAsync(Inode n, CancellationToken ct)
    {
        lock (_lock)
        {
            if (n.HeadIsCurrent && (n.OpenCount > 0 || IsFreshLocked(n))) return n.Head!;
        }
        await RefreshFileAsync(n, ct).ConfigureAwait(false);
        lock (_lock)
        {
            return n.HeadIsCurrent ? n.Head! : throw new FileSystemException(FsError.Unreachable, $"metadata of {n.Name} is not known and the store is unreachable");
        }
    }

    /// <summary>Takes the metadata a GET answer carried (every GET answer has it) into the inode, when it is of the version shown.</summary>
    private void LearnFromRead(Inode n, ObjectInfo stored)
    {
        lock (_lock)
        {
            if (n.Write is null && !n.LocalOnly && n.ETag == stored.ETag && (stored.Metadata is not null || stored.ContentType is not null))
            {
                n.Head = stored;
            }
        }
    }

    // ------------------------------------------------------------------ extended attributes

    /// <summary>Prefix of the extended attributes that show user metadata: <c>user.NAME</c> is metadata <c>NAME</c>.</summary>
    public const string UserXattrPrefix = "user.";

    /// <summary>Prefix of CloudMount's read-only attributes (Content-Type, Content-Encoding, ETag, storage class).</summary>
    public const string InfoXattrPrefix = "user.cloudmount.";

    /// <summary>
    /// The extended attributes of a node: <c>user.NAME</c> for each user metadata entry (x-amz-meta-NAME on S3), and
    /// read-only <c>user.cloudmount.content-type</c>, <c>.content-encoding</c>, <c>.etag</c> and
    /// <c>.storage-class</c> where the store reports them. Directories and files not yet uploaded have none.
    /// Costs one HEAD unless the metadata is known and fresh.
    /// </summary>
    public async ValueTask<List<KeyValuePair<string, string>>> ListXattrAsync(ulong ino, CancellationToken cancellationToken)
    {
        var n = GetInode(ino);
        var result = new List<KeyValuePair<string, string>>();
        bool local;
        lock (_lock) local = n.IsDirectory || n.LocalOnly;
        if (local || !_store.Capabilities.Metadata) return result;
        var head = await EnsureHeadAsync(n, cancellationToken).ConfigureAwait(false);
        Dictionary<string, string>? pending;
        lock (_lock) pending = n.Write?.Metadata is { } p ? new(p) : null;
        foreach (var (k, v) in (IEnumerable<KeyValuePair<string, string>>?)pending ?? head.Metadata ?? new Dictionary<string, string>())
        {
            if (!k.StartsWith("cloudmount.", StringComparison.Ordinal)) result.Add(new(UserXattrPrefix + k, v));
        }
        void Info(string name, string? value)
        {
            if (!string.IsNullOrEmpty(value)) result.Add(new(InfoXattrPrefix + name, value));
        }
        Info("content-type", head.ContentType);
        Info("content-encoding", head.ContentEncoding);
        Info("etag", head.ETag?.Trim('"'));
        Info("storage-class", head.StorageClass);
        return result;
    }

    /// <summary>One extended attribute's value (UTF-8 bytes of the metadata value).</summary>
    /// <exception cref="FileSystemException">NoData when the node has no such attribute (any name outside <c>user.</c>, answered without a request).</exception>
    public async ValueTask<byte[]> GetXattrAsync(ulong ino, string name, CancellationToken cancellationToken)
    {
        if (!name.StartsWith(UserXattrPrefix, StringComparison.Ordinal))
        {
            // security.*, system.posix_acl_* (asked by ls and by every write) and trusted.*: none here, and no request.
            throw new FileSystemException(FsError.NoData, $"no attribute {name}");
        }
        var all = await ListXattrAsync(ino, cancellationToken).ConfigureAwait(false);
        string wanted = name.StartsWith(InfoXattrPrefix, StringComparison.Ordinal) ? name : UserXattrPrefix + name[UserXattrPrefix.Length..].ToLowerInvariant();
        foreach (var (k, v) in all)
        {
            if (k == wanted) return System.Text.Encoding.UTF8.GetBytes(v);
        }
        throw new FileSystemException(FsError.NoData, $"no attribute {name}");
    }

    /// <summary>
    /// Sets <c>user.NAME</c> to a value, storing it as user metadata <c>NAME</c> (lower-cased, as S3 stores names)
    /// with a server-side copy of the object onto itself; on a file with data not yet uploaded, the upload
    /// happens first. Values must be printable ASCII, as HTTP headers carry them.
    /// </summary>
    /// <exception cref="FileSystemException">NotSupported outside <c>user.</c>, on directories, or on a store without
    /// metadata; NotPermitted for <c>user.cloudmount.*</c>; InvalidArgument for a value headers cannot carry;
    /// Exists / NoData for <paramref name="mustCreate"/> / <paramref name="mustReplace"/>; ReadOnly.</exception>
    public async ValueTask SetXattrAsync(ulong ino, string name, ReadOnlyMemory<byte> value, bool mustCreate, bool mustReplace, CancellationToken cancellationToken)
    {
        string key = CheckWritableXattr(name);
        string text;
        try
        {
            text = new System.Text.UTF8Encoding(false, true).GetString(value.Span);
        }
        catch (System.Text.DecoderFallbackException)
        {
            throw new FileSystemException(FsError.InvalidArgument, $"{name}: object metadata holds text, not binary values");
        }
        if (text.Any(c => c < 0x20 || c > 0x7e))
        {
            throw new FileSystemException(FsError.InvalidArgument, $"{name}: object metadata values are printable ASCII");
        }
        await ChangeMetadataAsync(ino, meta =>
        {
            bool exists = meta.ContainsKey(key);
            if (mustCreate && exists) throw new FileSystemException(FsError.Exists, $"{name} exists");
            if (mustReplace && !exists) throw new FileSystemException(FsError.NoData, $"no attribute {name}");
            meta[key] = text;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Removes <c>user.NAME</c> (the metadata entry <c>NAME</c>) with a server-side copy of the object onto itself.</summary>
    /// <exception cref="FileSystemException">NoData when there is no such attribute; otherwise as <see cref="SetXattrAsync"/>.</exception>
    public async ValueTask RemoveXattrAsync(ulong ino, string name, CancellationToken cancellationToken)
    {
        string key = CheckWritableXattr(name);
        await ChangeMetadataAsync(ino, meta =>
        {
            if (!meta.Remove(key)) throw new FileSystemException(FsError.NoData, $"no attribute {name}");
        }, cancellationToken).ConfigureAwait(false);
    }

    private string CheckWritableXattr(string name)
    {
        if (name.StartsWith(InfoXattrPrefix, StringComparison.Ordinal))
        {
            throw new FileSystemException(FsError.NotPermitted, $"{name} is read-only: it shows what the store reports");
        }
        if (!name.StartsWith(UserXattrPrefix, StringComparison.Ordinal) || name.Length == UserXattrPrefix.Length)
        {
            throw new FileSystemException(FsError.NotSupported, $"only user.* attributes can be stored as object metadata, not {name}");
        }
        ThrowIfReadOnly();
        if (!_store.Capabilities.Metadata)
        {
            throw new FileSystemException(FsError.NotSupported, $"{_store.Name} keeps no object metadata");
        }
        string key = name[UserXattrPrefix.Length..].ToLowerInvariant();
        if (!key.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
        {
            throw new FileSystemException(FsError.InvalidArgument, $"{name}: metadata names are letters, digits, '-', '_' and '.'");
        }
        return key;
    }

    /// <summary>
    /// Applies <paramref name="change"/> to a file's user metadata and stores it. A file with local data keeps the
    /// change for its upload, which happens now if the file is not open; a clean file's object gets the new
    /// metadata with <see cref="IObjectStore.UpdateMetadataAsync"/> (a copy onto itself, If-Match its ETag).
    /// </summary>
    private async Task ChangeMetadataAsync(ulong ino, Action<Dictionary<string, string>> change, CancellationToken ct)
    {
        var n = GetInode(ino);
        if (n.IsDirectory)
        {
            throw new FileSystemException(FsError.NotSupported, "directories are key prefixes and have no metadata");
        }
        if (n.Write is { } w)
        {
            await w.Gate.WaitAsync(ct).ConfigureAwait(false);
            try
            {
                if (n.Write == w && (w.Dirty || w.UploadFailed))
                {
                    // Keep the change with the data: it goes up with the next upload.
                    var pending = w.Metadata ?? await KnownMetadataAsync(n, w, ct).ConfigureAwait(false);
                    change(pending);
                    lock (_lock) w.Metadata = pending;
                    bool open;
                    lock (_lock) open = n.OpenCount > 0;
                    if (!open) await UploadLockedAsync(n, w, ct).ConfigureAwait(false);
                    return;
                }
            }
            finally
            {
                w.Gate.Release();
            }
        }
        var head = await EnsureHeadAsync(n, ct).ConfigureAwait(false);
        var meta = head.Metadata is { } m ? new Dictionary<string, string>(m, StringComparer.Ordinal) : new Dictionary<string, string>(StringComparer.Ordinal);
        change(meta);
        string key = FileKey(n);
        var updated = await _store.UpdateMetadataAsync(key, new ObjectWriteOptions
        {
            ContentType = head.ContentType,
            ContentEncoding = head.ContentEncoding,
            Metadata = meta,
        }, head.ETag, ct).ConfigureAwait(false);
        lock (_lock)
        {
            if (n.Write is { } open) open.Metadata = new Dictionary<string, string>(meta, StringComparer.Ordinal);
            if (n.ETag == head.ETag || n.ETag == updated.ETag)
            {
                n.ETag = updated.ETag;
                n.Size = updated.Size;
                n.Mtime = updated.LastModified;
                n.Head = updated;
                if (n.Encoding is not null) n.EncodingETag = updated.ETag;
                if (n.KernelCacheETag == head.ETag) n.KernelCacheETag = updated.ETag;
                if (n.Parent is { } p && !n.Detached)
                {
                    SetListingEntryLocked(p, n.Name, EntryFromHead(updated, n.DecodedSize));
                }
            }
        }
        InvalidateKernelAttributes?.Invoke(n.Ino);
    }

    /// <summary>The user metadata the object a staged file replaces had (a HEAD if needed), to carry across the rewrite.</summary>
    private async Task<Dictionary<string, string>> KnownMetadataAsync(Inode n, WriteState w, CancellationToken ct)
    {
        ObjectInfo? head;
        lock (_lock) head = n.Head is { } h && h.ETag == w.RemoteETag ? h : null;
        if (head is null && w.RemoteETag is not null && !n.LocalOnly)
        {
            head = await _store.HeadAsync(FileKey(n), ct).ConfigureAwait(false);
        }
        return CarriedMetadata(head?.Metadata);
    }

    /// <summary>User metadata a rewrite keeps: all but what describes the old bytes (the decoded length).</summary>
    private static Dictionary<string, string> CarriedMetadata(IReadOnlyDictionary<string, string>? old)
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
