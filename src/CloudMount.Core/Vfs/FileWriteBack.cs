using CloudMount.Core.Writing;

namespace CloudMount.Core.Vfs;

/// <summary>
/// The staging state of one file: its local copy, whether that copy already holds the object's bytes
/// (<see cref="Hydrated"/>), whether it has changes not yet uploaded (<see cref="Dirty"/>), and the record that
/// lets a later mount find those changes after a crash (<see cref="RecordState"/>).
/// </summary>
/// <remarks>
/// Every field is protected by the owning inode's <see cref="Inode.Gate"/>; <see cref="Length"/>,
/// <see cref="Dirty"/>, <see cref="Mtime"/> and <see cref="Metadata"/> are also read without it (under the table
/// lock) for attributes, and may then be a moment old.
/// </remarks>
internal sealed class FileWriteBack(StagingFile file, bool hydrated, long remoteSize, string? remoteETag)
{
    public StagingFile File { get; } = file;

    /// <summary>The staging file holds the object's bytes (or the file was truncated, so it needs none).</summary>
    public bool Hydrated = hydrated;
    /// <summary>Size and ETag of the object the local changes started from (<c>null</c> ETag: a new file).</summary>
    public long RemoteSize = remoteSize;
    public string? RemoteETag = remoteETag;
    /// <summary>The staged bytes differ from the object (or no object exists yet).</summary>
    public volatile bool Dirty;
    /// <summary>Some write changed the bytes (as opposed to only creating or truncating the file).</summary>
    public bool HasWrites;
    public PosixTime Mtime = DateTimeOffset.UtcNow;
    /// <summary>
    /// <see cref="Mtime"/> was set explicitly (utimensat, futimens) after the last write: a streamed upload, whose
    /// metadata was fixed before the time was known, gets it with one metadata update once it completes.
    /// </summary>
    public bool MtimeSet;
    /// <summary>
    /// A write to the staging file failed (a full disk, an I/O error): the staged bytes are not what the writer
    /// wrote, so they are never uploaded; flush and close report this error until the file is released.
    /// </summary>
    public Exception? WriteFailure;
    /// <summary>The last upload failed; the data is kept and its record names the key.</summary>
    public bool UploadFailed;
    /// <summary>The encoding the file is stored with (kept from the object it replaces, or from --compress).</summary>
    public Codecs.Codec Encoding;
    /// <summary>
    /// Metadata the next upload stores: the replaced object's user metadata (so a rewrite keeps it) with changes
    /// made since (setxattr, chmod, ...); <c>null</c> when none is known.
    /// </summary>
    public Dictionary<string, string>? Metadata;
    /// <summary>The Content-Type of the object replaced, kept by the rewrite; <c>null</c> to derive one from the name.</summary>
    public string? ContentType;
    /// <summary>A multipart upload running while the file is written (large files on stores that have them).</summary>
    public UploadSession? Session;
    /// <summary>What the record on disk says: <c>null</c> while there is none, else <see cref="PendingUpload.Writing"/> or <see cref="PendingUpload.Closed"/>.</summary>
    public string? RecordState;
    /// <summary>The key the record names (to rewrite it after a rename).</summary>
    public string? RecordKey;

    /// <summary>The file's length as the user sees it.</summary>
    public long Length => Hydrated ? File.Length : RemoteSize;
}
