using CloudMount.Core.Caching;
using CloudMount.Core.Reading;

namespace CloudMount.Core.Vfs;

/// <summary>Settings of one mount's filesystem view.</summary>
public sealed record VfsOptions
{
    /// <summary>Key prefix the mount's root shows: empty for the whole bucket, otherwise ending in <c>/</c>.</summary>
    public string RootPrefix { get; init; } = "";

    /// <summary>Refuse every change with EROFS.</summary>
    public bool ReadOnly { get; init; }

    /// <summary>Owner shown for every node.</summary>
    public uint Uid { get; init; }

    /// <summary>Group shown for every node.</summary>
    public uint Gid { get; init; }

    /// <summary>Permission bits of files (default 0644).</summary>
    public uint FileMode { get; init; } = Convert.ToUInt32("644", 8);

    /// <summary>Permission bits of directories (default 0755).</summary>
    public uint DirectoryMode { get; init; } = Convert.ToUInt32("755", 8);

    /// <summary>
    /// How long attributes, entries and directory listings are trusted before the store is asked again.
    /// Default 1 s, as mountpoint-s3: safe for a bucket that other machines write.
    /// </summary>
    public TimeSpan MetadataTtl { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long "no such name" is trusted (default 1 s).</summary>
    public TimeSpan NegativeTtl { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Folder for staging files of writes in progress; created if missing.</summary>
    public string StagingDirectory { get; init; } = Path.Combine(Path.GetTempPath(), "cloudmount-staging");

    /// <summary>Data cache tiers (memory, disk) reads go through, or <c>null</c> for none.</summary>
    public ReadCaches? Caches { get; init; }

    /// <summary>
    /// Decoded copies of encoded objects: with them, objects stored with Content-Encoding gzip, br or zstd read as
    /// their decoded bytes; <c>null</c> reads stored bytes (<c>--raw</c>).
    /// </summary>
    public Codecs.DecodedCopies? Decoding { get; init; }

    /// <summary>How new files are encoded on upload (<c>--compress</c>).</summary>
    public Codecs.CompressionOptions Compression { get; init; } = new();

    /// <summary>
    /// Make one HEAD per file when it is listed or looked up (cached like listings), so stat shows what only an
    /// object's metadata holds before the file is opened: the decoded size of a compressed object, mtime, mode,
    /// uid and gid kept by s3fs or rclone, and symlinks. Off by default: <c>ls -l</c> then costs one LIST per
    /// directory and no HEAD, and these attributes show once a file has been opened or its xattrs read.
    /// </summary>
    public bool ExactAttributes { get; init; }

    /// <summary>
    /// Store <c>touch -m</c>, <c>chmod</c> and <c>chown</c> of files in the object's <c>mtime</c>, <c>mode</c>,
    /// <c>uid</c> and <c>gid</c> metadata, as s3fs and rclone do (<see cref="PosixMetadata"/>), and write them with
    /// every upload. Implies <see cref="ExactAttributes"/>.
    /// </summary>
    public bool PosixAttributes { get; init; }

    /// <summary>Upload settings: part size, parallel parts, and from what size a file goes up in parts while written.</summary>
    public Writing.UploadOptions Upload { get; init; } = new();

    /// <summary>
    /// Largest file in bytes (the store's largest object: 5 TiB on S3 and GCS). A write or truncate beyond it fails
    /// with EFBIG instead of failing at upload.
    /// </summary>
    public long MaxFileBytes { get; init; } = 5L << 40;

    /// <summary>
    /// How long unmount waits in all for uploads in progress and for a last upload of files still dirty; what is
    /// not stored by then stays in staging with its record, and the next mount uploads it.
    /// </summary>
    public TimeSpan UnmountUploadTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Read-ahead settings.</summary>
    public ReadAheadOptions ReadAhead { get; init; } = new();
}
