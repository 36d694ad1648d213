namespace CloudMount.Core.Storage;

/// <summary>
/// Bytes to upload that can be read again from any offset, so a failed request can be retried and
/// multipart uploads can send parts in parallel. Instances are immutable views; the backing data must
/// not change while an upload runs.
/// </summary>
public abstract class ObjectContent
{
    /// <summary>Total length in bytes.</summary>
    public abstract long Length { get; }

    /// <summary>Opens a new read-only stream over <paramref name="count"/> bytes starting at <paramref name="offset"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The range lies outside the content.</exception>
    public abstract Stream OpenRead(long offset, long count);

    /// <summary>Opens a stream over the whole content.</summary>
    public Stream OpenRead() => OpenRead(0, Length);

    /// <summary>Content held in memory.</summary>
    public static ObjectContent FromBytes(ReadOnlyMemory<byte> bytes) => new MemoryContent(bytes);

    /// <summary>Content of a local file, read at upload time; the file must not change during the upload.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static ObjectContent FromFile(string path) => new FileContent(path, 0, null);

    /// <summary><paramref name="length"/> bytes of a local file from <paramref name="offset"/> (a part of a staged file).</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static ObjectContent FromFile(string path, long offset, long length) => new FileContent(path, offset, length);

    /// <summary>A part of this content: <paramref name="length"/> bytes from <paramref name="offset"/>.</summary>
    public ObjectContent Slice(long offset, long length)
    {
        CheckRange(offset, length);
        return new SliceContent(this, offset, length);
    }

    private sealed class SliceContent(ObjectContent inner, long start, long length) : ObjectContent
    {
        public override long Length => length;

        public override Stream OpenRead(long offset, long count)
        {
            CheckRange(offset, count);
            return inner.OpenRead(start + offset, count);
        }
    }

    /// <summary>Checks an (offset, count) pair against <see cref="Length"/>.</summary>
    protected void CheckRange(long offset, long count)
    {
        if (offset < 0 || count < 0 || offset + count > Length)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"range {offset}+{count} outside content of {Length} bytes");
        }
    }

    private sealed class MemoryContent(ReadOnlyMemory<byte> bytes) : ObjectContent
    {
        public override long Length => bytes.Length;

        public override Stream OpenRead(long offset, long count)
        {
            CheckRange(offset, count);
            return new ReadOnlyMemoryStream(bytes.Slice((int)offset, (int)count));
        }
    }

    private sealed class FileContent : ObjectContent
    {
        private readonly string _path;
        private readonly long _start;
        private readonly long _length;

        public FileContent(string path, long start, long? length)
        {
            _path = path;
            long size = new FileInfo(path) is { Exists: true } fi ? fi.Length : throw new FileNotFoundException("no such file", path);
            _start = start;
            _length = length ?? size - start;
        }

        public override long Length => _length;

        public override Stream OpenRead(long offset, long count)
        {
            CheckRange(offset, count);
            var fs = new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0, FileOptions.Asynchronous | FileOptions.SequentialScan);
            return new SubStream(fs, _start + offset, count);
        }
    }
}
