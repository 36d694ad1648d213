namespace CloudMount.Core.Vfs;

/// <summary>
/// Extended attributes: user metadata shown as <c>user.NAME</c>, and read-only <c>user.cloudmount.*</c>
/// attributes that show what the store reports. Changes go through <see cref="AttributeOps.ChangeMetadataAsync"/>.
/// </summary>
internal sealed class Xattrs(VfsContext ctx, NodeLookup lookup, AttributeOps attributes)
{
    /// <summary>Prefix of the extended attributes that show user metadata: <c>user.NAME</c> is metadata <c>NAME</c>.</summary>
    public const string UserPrefix = "user.";

    /// <summary>Prefix of CloudMount's read-only attributes (Content-Type, Content-Encoding, ETag, storage class).</summary>
    public const string InfoPrefix = "user.cloudmount.";

    private InodeTable Table => ctx.Table;

    /// <summary>
    /// The extended attributes of a node: <c>user.NAME</c> for each user metadata entry (x-amz-meta-NAME on S3) other
    /// than the POSIX attributes (<see cref="PosixMetadata.IsAttributeKey"/>), and
    /// read-only <c>user.cloudmount.content-type</c>, <c>.content-encoding</c>, <c>.etag</c> and
    /// <c>.storage-class</c> where the store reports them. Directories have none; a file not yet uploaded has what setxattr gave it.
    /// Costs one HEAD unless the metadata is known and fresh.
    /// </summary>
    public async ValueTask<List<KeyValuePair<string, string>>> ListAsync(ulong ino, CancellationToken ct)
    {
        var n = Table.Get(ino);
        var result = new List<KeyValuePair<string, string>>();
        bool directory, localOnly;
        Dictionary<string, string>? pending;
        lock (Table.Sync)
        {
            (directory, localOnly) = (n.IsDirectory, n.LocalOnly);
            pending = n.Write?.Metadata is { } p ? new(p) : null;
        }
        if (directory || !ctx.Store.Capabilities.Metadata) return result;
        void User(IEnumerable<KeyValuePair<string, string>> meta)
        {
            foreach (var (k, v) in meta)
            {
                if (!k.StartsWith("cloudmount.", StringComparison.Ordinal) && !PosixMetadata.IsAttributeKey(k)) result.Add(new(UserPrefix + k, v));
            }
        }
        if (localOnly)
        {
            // Not stored yet: what setxattr gave it, kept for its upload.
            if (pending is not null) User(pending);
            return result;
        }
        var head = await lookup.EnsureHeadAsync(n, ct).ConfigureAwait(false);
        User((IEnumerable<KeyValuePair<string, string>>?)pending ?? head.Metadata ?? new Dictionary<string, string>());
        void Info(string name, string? value)
        {
            if (!string.IsNullOrEmpty(value)) result.Add(new(InfoPrefix + name, value));
        }
        Info("content-type", head.ContentType);
        Info("content-encoding", head.ContentEncoding);
        Info("etag", head.ETag?.Trim('"'));
        Info("storage-class", head.StorageClass);
        return result;
    }

    /// <summary>One extended attribute's value (UTF-8 bytes of the metadata value).</summary>
    /// <exception cref="FileSystemException">NoData when the node has no such attribute (any name outside <c>user.</c>, answered without a request).</exception>
    public async ValueTask<byte[]> GetAsync(ulong ino, string name, CancellationToken ct)
    {
        if (!name.StartsWith(UserPrefix, StringComparison.Ordinal))
        {
            // security.*, system.posix_acl_* (asked by ls and by every write) and trusted.*: none here, and no request.
            throw new FileSystemException(FsError.NoData, $"no attribute {name}");
        }
        var all = await ListAsync(ino, ct).ConfigureAwait(false);
        string wanted = name.StartsWith(InfoPrefix, StringComparison.Ordinal) ? name : UserPrefix + name[UserPrefix.Length..].ToLowerInvariant();
        foreach (var (k, v) in all)
        {
            if (k == wanted) return System.Text.Encoding.UTF8.GetBytes(v);
        }
        throw new FileSystemException(FsError.NoData, $"no attribute {name}");
    }

    /// <summary>
    /// Sets <c>user.NAME</c> to a value, storing it as user metadata <c>NAME</c> (lower-cased, as S3 stores names)
    /// with a server-side copy of the object onto itself; on a file with data not yet uploaded, with its upload.
    /// Values must be printable ASCII, as HTTP headers carry them.
    /// </summary>
    /// <exception cref="FileSystemException">NotSupported outside <c>user.</c>, on directories, or on a store without
    /// metadata; NotPermitted for <c>user.cloudmount.*</c> and the POSIX attributes' names; InvalidArgument for a value headers cannot carry;
    /// Exists / NoData for <paramref name="mustCreate"/> / <paramref name="mustReplace"/>; ReadOnly.</exception>
    public async ValueTask SetAsync(ulong ino, string name, ReadOnlyMemory<byte> value, bool mustCreate, bool mustReplace, CancellationToken ct)
    {
        string key = CheckWritable(name);
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
        await attributes.ChangeMetadataAsync(ino, (meta, _) =>
        {
            bool exists = meta.ContainsKey(key);
            if (mustCreate && exists) throw new FileSystemException(FsError.Exists, $"{name} exists");
            if (mustReplace && !exists) throw new FileSystemException(FsError.NoData, $"no attribute {name}");
            meta[key] = text;
        }, ct).ConfigureAwait(false);
    }

    /// <summary>Removes <c>user.NAME</c> (the metadata entry <c>NAME</c>) with a server-side copy of the object onto itself.</summary>
    /// <exception cref="FileSystemException">NoData when there is no such attribute; otherwise as <see cref="SetAsync"/>.</exception>
    public async ValueTask RemoveAsync(ulong ino, string name, CancellationToken ct)
    {
        string key = CheckWritable(name);
        await attributes.ChangeMetadataAsync(ino, (meta, _) =>
        {
            if (!meta.Remove(key)) throw new FileSystemException(FsError.NoData, $"no attribute {name}");
        }, ct).ConfigureAwait(false);
    }

    private string CheckWritable(string name)
    {
        if (name.StartsWith(InfoPrefix, StringComparison.Ordinal))
        {
            throw new FileSystemException(FsError.NotPermitted, $"{name} is read-only: it shows what the store reports");
        }
        if (!name.StartsWith(UserPrefix, StringComparison.Ordinal) || name.Length == UserPrefix.Length)
        {
            throw new FileSystemException(FsError.NotSupported, $"only user.* attributes can be stored as object metadata, not {name}");
        }
        ctx.ThrowIfReadOnly();
        if (!ctx.Store.Capabilities.Metadata)
        {
            throw new FileSystemException(FsError.NotSupported, $"{ctx.Store.Name} keeps no object metadata");
        }
        string key = name[UserPrefix.Length..].ToLowerInvariant();
        if (PosixMetadata.IsAttributeKey(key))
        {
            throw new FileSystemException(FsError.NotPermitted, $"{name} holds the file's {key}: change it with chmod, chown or touch");
        }
        if (!key.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
        {
            throw new FileSystemException(FsError.InvalidArgument, $"{name}: metadata names are letters, digits, '-', '_' and '.'");
        }
        return key;
    }
}
