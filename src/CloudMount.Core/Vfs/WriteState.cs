using CloudMount.Core.Writing;

namespace CloudMount.Core.Vfs;

/// <summary>
/// The staging state of one file: its local copy, whether that copy already holds the object's bytes
/// (<see cref="Hydrated"/>), and whether it has changes not yet uploaded (<see cref="Dirty"/>).
/// <see cref="Gate"/> serialises filling, writing, truncating and uploading.
/// </summary>
internal sealed class WriteState(StagingFile file, bool hydrated, long remoteSize, string? remoteETag)
{
    public StagingFile File { get; } = file;
    public SemaphoreSlim Gate { get; } = new(1, 1);

    // ---- protected by Gate (read without it only for attributes) ----
    public bool Hydrated = hydrated;
    public long RemoteSize = remoteSize;
    public string? RemoteETag = remoteETag;
    public bool Dirty;
    public DateTimeOffset Mtime = DateTimeOffset.UtcNow;
    /// <summary>The last upload failed; the data is kept and a sidecar names the key.</summary>
    public bool UploadFailed;
    /// <summary>The encoding the file is stored with (kept from the object it replaces, or from --compress).</summary>
    public Codecs.Codec Encoding;
    /// <summary>Some write changed the bytes (as opposed to only creating or truncating the file).</summary>
    public bool HasWrites;
    /// <summary>
    /// Metadata the next upload stores: the replaced object's user metadata (so a rewrite keeps it) with changes
    /// made since (setxattr, chmod with <see cref="VfsOptions.PosixAttributes"/>); <c>null</c> when none is known.
    /// </summary>
    public Dictionary<string, string>? Metadata;
    /// <summary>The Content-Type of the object replaced, kept by the rewrite; <c>null</c> to derive one from the name.</summary>
    public string? ContentType;
    /// <summary>A multipart upload running while the file is written (large files on stores that have them).</summary>
    public UploadSession? Session;

    /// <summary>The file's length as the user sees it.</summary>
    public long Length => Hydrated ? File.Length : RemoteSize;
}
