using CloudMount.Core.Storage;
using CloudMount.Core.Storage.LocalFs;
using Microsoft.Win32.SafeHandles;

namespace CloudMount.Core.Reading;

/// <summary>
/// Reads of one open file of a <c>file://</c> store, straight from the file (positional reads into a pooled buffer,
/// one copy, as a passthrough filesystem does), instead of copying it into the caches first.
/// </summary>
/// <remarks>
/// The file is opened at the first read and checked against the ETag seen at open; the handle then keeps reading
/// that version even if a write renames a new file into place. One descriptor per open file, closed with it.
/// <c>_lock</c> guards the handle's opening and closing.
/// </remarks>
internal sealed class LocalFileReader(LocalFsObjectStore store, Func<string> key, string? etag, long size, BufferPool pool) : IDisposable
{
    private readonly Lock _lock = new();
    private SafeFileHandle? _handle;   // protected by _lock
    private bool _disposed;            // protected by _lock

    private SafeFileHandle Handle()
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _handle ??= store.OpenVersion(key(), etag);
        }
    }

    /// <summary>Reads up to <paramref name="count"/> bytes at <paramref name="offset"/> into a pooled buffer.</summary>
    /// <exception cref="PreconditionFailedException">The file changed since open.</exception>
    /// <exception cref="ObjectNotFoundException">The file is gone.</exception>
    public ValueTask<ReadLease> LeaseAsync(long offset, int count, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        int want = (int)Math.Min(count, size - offset);
        var handle = Handle();
        var buffer = pool.Rent(want);
        try
        {
            int total = 0;
            while (total < want)
            {
                int n = RandomAccess.Read(handle, buffer.AsSpan(total, want - total), offset + total);
                if (n == 0) break; // shorter than at open: only a change in place does that
                total += n;
            }
            return ValueTask.FromResult(new ReadLease([buffer.Slice(0, total)], () => pool.Return(buffer)));
        }
        catch
        {
            pool.Return(buffer);
            throw;
        }
    }

    /// <summary>Closes the file.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            _handle?.Dispose();
            _handle = null;
        }
    }
}
