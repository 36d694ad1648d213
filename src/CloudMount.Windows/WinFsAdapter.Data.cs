using CloudMount.Core.Vfs;
using CloudMount.Windows.Interop;

namespace CloudMount.Windows;

/// <summary>Read, Write, Flush and the file information calls.</summary>
internal sealed partial class WinFsAdapter
{
    /// <summary>
    /// Read: up to <c>destination.Length</c> bytes at <paramref name="offset"/> into the caller's buffer (WinFsp's,
    /// valid until the answer is sent). At or past the end of the file: STATUS_END_OF_FILE, as WinFsp expects.
    /// </summary>
    public ValueTask<NtResult<int>> ReadAsync(ulong context, long offset, Memory<byte> destination) =>
        Run("Read", async ct =>
        {
            var h = Handle(context);
            if (h.IsDirectory) throw new NtStatusException(NtStatus.InvalidDeviceRequest, "read of a directory");
            ulong fh = await ReadHandleAsync(h, ct).ConfigureAwait(false);
            int got = await _fs.ReadAsync(fh, offset, destination, ct).ConfigureAwait(false);
            if (got == 0 && destination.Length > 0) throw new NtStatusException(NtStatus.EndOfFile, "end of file");
            return got;
        });

    /// <summary>
    /// Write: <paramref name="data"/> at <paramref name="offset"/>, or at the end of the file with
    /// <paramref name="toEnd"/> (FILE_APPEND_DATA handles; WinFsp passes offset -1). With
    /// <paramref name="constrained"/> (paging I/O from the cache manager) the file is never extended: bytes past
    /// its end are not written.
    /// </summary>
    public ValueTask<NtResult<(int Written, FspFileInfo Info)>> WriteAsync(ulong context, long offset, ReadOnlyMemory<byte> data, bool toEnd, bool constrained) =>
        Run("Write", async ct =>
        {
            var h = Handle(context);
            if (h.IsDirectory) throw new NtStatusException(NtStatus.InvalidDeviceRequest, "write to a directory");
            ulong fh = await WriteHandleAsync(h, ct).ConfigureAwait(false);
            if (toEnd || constrained)
            {
                long size = (await _fs.GetAttrAsync(h.Node.Ino, ct).ConfigureAwait(false)).Size;
                if (toEnd) offset = size;
                if (constrained)
                {
                    if (offset >= size) return (0, await InfoAsync(h.Node, ct).ConfigureAwait(false));
                    data = data[..(int)Math.Min(data.Length, size - offset)];
                }
            }
            int written = await _fs.WriteAsync(fh, offset, data, ct).ConfigureAwait(false);
            h.WrittenSinceFlush = true;
            return (written, await InfoAsync(h.Node, ct).ConfigureAwait(false));
        });

    /// <summary>Flush (FlushFileBuffers): uploads the file's changes now and answers with their outcome. Context 0 (the volume) has nothing to do.</summary>
    public ValueTask<NtResult<FspFileInfo>> FlushAsync(ulong context) =>
        Run("Flush", async ct =>
        {
            if (context == 0) return default;
            var h = Handle(context);
            if (Volatile.Read(ref h.WriteFh) is not 0 and var fh)
            {
                await _fs.FsyncAsync(fh, ct).ConfigureAwait(false);
                h.WrittenSinceFlush = false;
            }
            return await InfoAsync(h.Node, ct).ConfigureAwait(false);
        });

    /// <summary>GetFileInfo.</summary>
    public ValueTask<NtResult<FspFileInfo>> GetFileInfoAsync(ulong context) =>
        Run("GetFileInfo", ct => InfoAsync(Handle(context).Node, ct));

    /// <summary>
    /// SetBasicInfo: a last-write time (non-zero) becomes the file's mtime (stored with --posix-attrs, as on
    /// Linux); attributes and the other times are accepted and not kept (objects have no place for them).
    /// </summary>
    public ValueTask<NtResult<FspFileInfo>> SetBasicInfoAsync(ulong context, uint fileAttributes, ulong creationTime, ulong lastAccessTime, ulong lastWriteTime, ulong changeTime) =>
        Run("SetBasicInfo", async ct =>
        {
            var h = Handle(context);
            if (lastWriteTime != 0 && lastWriteTime != ulong.MaxValue)
            {
                var changes = new SetAttributes { Mtime = FileInfoMapper.FromFileTime(lastWriteTime) };
                await _fs.SetAttrAsync(h.Node.Ino, changes, h.WriteFh is not 0 and var w ? w : null, ct).ConfigureAwait(false);
            }
            return await InfoAsync(h.Node, ct).ConfigureAwait(false);
        });

    /// <summary>
    /// SetFileSize: the end of file (truncate or extend, staged and uploaded at Cleanup), or with
    /// <paramref name="setAllocationSize"/> the allocation size, which only matters when it cuts the file short
    /// (winfsp.h: "An allocation size of less than the current file size should also truncate").
    /// </summary>
    public ValueTask<NtResult<FspFileInfo>> SetFileSizeAsync(ulong context, ulong newSize, bool setAllocationSize) =>
        Run("SetFileSize", async ct =>
        {
            var h = Handle(context);
            if (h.IsDirectory) throw new NtStatusException(NtStatus.FileIsADirectory, "size of a directory");
            if (setAllocationSize)
            {
                long size = (await _fs.GetAttrAsync(h.Node.Ino, ct).ConfigureAwait(false)).Size;
                if ((long)newSize >= size) return await InfoAsync(h.Node, ct).ConfigureAwait(false);
            }
            ulong fh = await WriteHandleAsync(h, ct).ConfigureAwait(false);
            var attrs = await _fs.SetAttrAsync(h.Node.Ino, new SetAttributes { Size = (long)newSize }, fh, ct).ConfigureAwait(false);
            h.WrittenSinceFlush = true;
            return FileInfoMapper.ToFileInfo(attrs, ReadOnly);
        });
}
