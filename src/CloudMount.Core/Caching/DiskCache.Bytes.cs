using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace CloudMount.Core.Caching;

public sealed partial class DiskCache
{
    /// <summary>
    /// Copies bytes [<paramref name="offset"/>, <paramref name="offset"/> + <c>destination.Length</c>) of a version
    /// into <paramref name="destination"/> through the page cache, when every block they touch is cached; false
    /// otherwise (nothing is read). Random readers use this: a 256 KiB read costs 256 KiB of copying, not the 1 MiB
    /// of its block, and the page cache keeps what was read for the next reader.
    /// </summary>
    /// <param name="v">The version.</param>
    /// <param name="offset">First byte, in bytes from the object's start.</param>
    /// <param name="destination">Where the bytes go; its length is the count (within the object).</param>
    public bool TryReadBytes(in ObjectVersion v, long offset, Span<byte> destination)
    {
        if (!TryLeaseBytes(v, offset, destination.Length, out var handle)) return false;
        try
        {
            return ReadFully(handle, destination, offset, destination.Length);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or UnauthorizedAccessException)
        {
            _logger.LogWarning("disk cache read of {Key} failed: {Error}", v.Key, ex.Message);
            return false;
        }
        finally
        {
            handle.DangerousRelease();
        }
    }

    /// <summary>
    /// The buffered descriptor of a version's data file, when every block that bytes [<paramref name="offset"/>,
    /// <paramref name="offset"/> + <paramref name="length"/>) touch is cached (the file holds them at the same
    /// offsets); false otherwise. The handle's reference count is raised: the caller calls
    /// <see cref="SafeHandle.DangerousRelease"/> once done, and the descriptor stays open until then, also when the
    /// entry is evicted or its descriptor trimmed meanwhile (an evicted file's bytes stay readable until then).
    /// </summary>
    /// <param name="v">The version.</param>
    /// <param name="offset">First byte, in bytes from the object's start.</param>
    /// <param name="length">How many bytes (within the object).</param>
    /// <param name="handle">The descriptor, referenced.</param>
    public bool TryLeaseBytes(in ObjectVersion v, long offset, int length, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out SafeFileHandle? handle)
    {
        handle = null;
        if (length <= 0 || offset < 0 || offset + length > v.Size) return false;
        var e = Find(v);
        if (e is null) return false;
        long first = offset / ObjectVersion.BlockSize, last = (offset + length - 1) / ObjectVersion.BlockSize;
        bool added = false;
        SafeFileHandle? h = null;
        try
        {
            lock (e.Sync)
            {
                if (e.Evicted || last >= e.Blocks.Length) return false;
                for (long b = first; b <= last; b++)
                {
                    // Pending blocks are on the data file already (this process wrote them); only the record waits.
                    if (!e.Blocks[b] && !e.Pending.Contains(b)) return false;
                }
                h = e.BufferedHandle(_open);
                _open.Touch(e);
                // A trim may close the descriptor while it is read: the handle's count keeps it open until then.
                h.DangerousAddRef(ref added);
                e.LastAccess = DateTimeOffset.UtcNow;
            }
            _open.Trim();
            if (!added) return false;
            handle = h;
            return true;
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or UnauthorizedAccessException)
        {
            if (added) h!.DangerousRelease();
            _logger.LogWarning("disk cache read of {Key} failed: {Error}", v.Key, ex.Message);
            return false;
        }
    }

    /// <summary>
    /// Reads at least <paramref name="length"/> bytes at <paramref name="offset"/> into <paramref name="destination"/>,
    /// each call asking for the whole rest of it (a direct-I/O destination is longer, rounded to 4,096); false when
    /// the file ends first.
    /// </summary>
    private static bool ReadFully(SafeFileHandle handle, Span<byte> destination, long offset, int length)
    {
        int total = 0;
        while (total < length)
        {
            int n = RandomAccess.Read(handle, destination[total..], offset + total);
            if (n == 0) return false;
            total += n;
        }
        return true;
    }
}
