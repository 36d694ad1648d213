using Microsoft.Win32.SafeHandles;

namespace CloudMount.Core.Reading;

/// <summary>
/// Bytes of a local file lent to a reply: <paramref name="Length"/> bytes at <paramref name="Offset"/> of
/// <paramref name="Handle"/>, kept open by the lease until it is disposed. A FUSE reply hands the descriptor to
/// libfuse, which splices the page-cache pages to the kernel (fuse_reply_data): the bytes never pass through us.
/// </summary>
/// <param name="Handle">The file (the disk cache's buffered descriptor).</param>
/// <param name="Offset">Where the bytes start in the file, in bytes.</param>
/// <param name="Length">How many bytes.</param>
public sealed record FileBytes(SafeFileHandle Handle, long Offset, int Length);

/// <summary>
/// The bytes of one read, lent out without copying: one or more segments of pooled, pinned buffers (read-ahead
/// parts or a rented buffer), or a range of a local file (<see cref="File"/>). Pass them to the kernel, then dispose
/// the lease to give the buffers (or the descriptor) back.
/// </summary>
public sealed class ReadLease : IDisposable
{
    private Action? _release;

    /// <summary>Creates a lease; <paramref name="release"/> runs once, on dispose.</summary>
    public ReadLease(IReadOnlyList<ArraySegment<byte>> segments, Action? release)
    {
        Segments = segments;
        _release = release;
        Length = segments.Sum(s => s.Count);
    }

    /// <summary>Creates a lease of a file's bytes; <paramref name="release"/> runs once, on dispose (it lets the descriptor go).</summary>
    public ReadLease(FileBytes file, Action release)
    {
        Segments = [];
        File = file;
        _release = release;
        Length = file.Length;
    }

    /// <summary>The bytes as a range of a local file, or <c>null</c> when they are in <see cref="Segments"/>.</summary>
    public FileBytes? File { get; }

    /// <summary>An empty read (end of file).</summary>
    public static ReadLease Empty => new([], null);

    /// <summary>The bytes, in order.</summary>
    public IReadOnlyList<ArraySegment<byte>> Segments { get; }

    /// <summary>Total bytes.</summary>
    public int Length { get; }

    /// <summary>Copies the bytes into <paramref name="destination"/>; returns how many.</summary>
    /// <exception cref="IOException">Reading a file lease failed, or its file ended before <see cref="Length"/> bytes.</exception>
    public int CopyTo(Span<byte> destination)
    {
        if (File is { } f)
        {
            int done = 0;
            while (done < f.Length)
            {
                int n = RandomAccess.Read(f.Handle, destination[done..f.Length], f.Offset + done);
                if (n == 0) throw new IOException($"the cache file ended {f.Length - done} bytes early");
                done += n;
            }
            return done;
        }
        int at = 0;
        foreach (var s in Segments)
        {
            s.AsSpan().CopyTo(destination[at..]);
            at += s.Count;
        }
        return at;
    }

    /// <summary>Gives the buffers back.</summary>
    public void Dispose() => Interlocked.Exchange(ref _release, null)?.Invoke();
}
