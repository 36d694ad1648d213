using CloudMount.Core.Storage;

namespace CloudMount.Core.Codecs;

/// <summary>How new objects are encoded on upload (<c>--compress</c>).</summary>
public sealed record CompressionOptions
{
    /// <summary>Extensions of data that does not shrink, stored as is: already compressed archives, images, media.</summary>
    public static IReadOnlySet<string> DefaultSkip { get; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        ".gz", ".tgz", ".zst", ".br", ".bz2", ".xz", ".lz4", ".lzma", ".7z", ".zip", ".rar", ".jar",
        ".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif", ".heic", ".mp3", ".mp4", ".m4a", ".mkv", ".mov", ".webm", ".ogg",
        ".parquet", ".h5", ".nc",
    };

    /// <summary>The encoding of new files; <see cref="Codec.Identity"/> stores them as written.</summary>
    public Codec Codec { get; init; } = Codec.Identity;

    /// <summary>Compression level (gzip 1-9, br 0-11, zstd 1-22), or <c>null</c> for the format's default.</summary>
    public int? Level { get; init; }

    /// <summary>Extensions (with the dot) stored without encoding.</summary>
    public IReadOnlySet<string> Skip { get; init; } = DefaultSkip;

    /// <summary>The encoding a new file named <paramref name="key"/> gets.</summary>
    public Codec For(string key) => Codec == Codec.Identity || Skip.Contains(Path.GetExtension(key)) ? Codec.Identity : Codec;
}

/// <summary>Encodes content for upload into a temporary file, recording the decoded size in metadata.</summary>
public static class Encoder
{
    /// <summary>
    /// Writes <paramref name="content"/> encoded with <paramref name="codec"/> to a temporary file in
    /// <paramref name="tempDirectory"/>, and returns it with write options that name the encoding and carry
    /// <see cref="ContentCodec.DecodedLengthMetadata"/>. Delete the file when the upload is done.
    /// </summary>
    public static async Task<(string Path, ObjectWriteOptions Options)> EncodeAsync(ObjectContent content, Codec codec, int? level,
        ObjectWriteOptions options, string tempDirectory, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(tempDirectory);
        string path = Path.Combine(tempDirectory, $"{Guid.NewGuid():n}.encoded");
        try
        {
            await using (var output = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20, useAsync: true))
            {
                await using (var encoder = ContentCodec.OpenEncoder(codec, output, level))
                await using (var input = content.OpenRead())
                {
                    await input.CopyToAsync(encoder, 1 << 20, cancellationToken).ConfigureAwait(false);
                }
            }
            var metadata = new Dictionary<string, string>(options.Metadata ?? new Dictionary<string, string>(), StringComparer.Ordinal)
            {
                [ContentCodec.DecodedLengthMetadata] = content.Length.ToString(System.Globalization.CultureInfo.InvariantCulture),
            };
            return (path, options with { ContentEncoding = ContentCodec.HeaderValue(codec), Metadata = metadata, ContentMd5 = null });
        }
        catch
        {
            File.Delete(path);
            throw;
        }
    }
}
