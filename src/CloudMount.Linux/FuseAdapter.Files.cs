using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using CloudMount.Core;
using CloudMount.Core.Vfs;
using CloudMount.Linux.Interop;

namespace CloudMount.Linux;

/// <summary>Files: open, create, read, write, flush, fsync, release.</summary>
internal sealed partial class FuseAdapter
{
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnOpen(nint req, ulong ino, FuseFileInfo* fi)
    {
        if (!Begin(req, "open", out var a, out var r)) return;
        try
        {
            var flags = FuseStat.Decode(fi->Flags);
            a.Run(r, a.OpenAsync(r, ino, flags));
        }
        catch (Exception e)
        {
            r.Fail(e);
        }
    }

    private async ValueTask OpenAsync(FuseRequest r, ulong ino, OpenFlags flags) =>
        await ReplyOpenAsync(r, await _fs.OpenAsync(ino, flags, r.Token).ConfigureAwait(false)).ConfigureAwait(false);

    /// <summary>Replies with an open handle; if the kernel did not take it, no release will come, so the handle is released here.</summary>
    private async ValueTask ReplyOpenAsync(FuseRequest r, OpenReply open)
    {
        if (SendOpen(r, open) != 0) await _fs.ReleaseAsync(open.Handle).ConfigureAwait(false);
    }

    private static unsafe int SendOpen(FuseRequest r, in OpenReply open)
    {
        FuseFileInfo fi = default;
        fi.Fh = open.Handle;
        if (open.KeepCache) fi.Bits |= FuseFileInfoBits.KeepCache;
        if (open.DirectIo) fi.Bits |= FuseFileInfoBits.DirectIo;
        return r.ReplyOpen(&fi);
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnCreate(nint req, ulong parent, byte* name, uint mode, FuseFileInfo* fi)
    {
        if (!Begin(req, "create", out var a, out var r)) return;
        try
        {
            string n = Utf8(name);
            r.What = "create " + n;
            var flags = FuseStat.Decode(fi->Flags);
            a.Run(r, a.CreateAsync(r, parent, n, flags, Caller(r, mode)));
        }
        catch (Exception e)
        {
            r.Fail(e);
        }
    }

    private async ValueTask CreateAsync(FuseRequest r, ulong parent, string name, OpenFlags flags, NodeCreation creation)
    {
        var (entry, open) = await _fs.CreateAsync(parent, name, flags, creation, r.Token).ConfigureAwait(false);
        if (SendCreate(r, entry, open) != 0)
        {
            // The kernel never saw the file: it will send neither forget nor release for it.
            _fs.Forget(entry.Attributes.Ino, 1);
            await _fs.ReleaseAsync(open.Handle).ConfigureAwait(false);
        }
    }

    private static unsafe int SendCreate(FuseRequest r, in EntryReply entry, in OpenReply open)
    {
        FuseEntryParam e = default;
        FuseStat.Fill(ref e, entry);
        FuseFileInfo fi = default;
        fi.Fh = open.Handle;
        return r.ReplyCreate(&e, &fi);
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnRead(nint req, ulong ino, nuint size, long off, FuseFileInfo* fi)
    {
        if (!Begin(req, "read", out var a, out var r)) return;
        try
        {
            if (off < 0 || size > int.MaxValue) throw new FileSystemException(FsError.InvalidArgument, $"read of {size} bytes at {off}");
            a.Run(r, a.ReadAsync(r, fi->Fh, (int)size, off));
        }
        catch (Exception e)
        {
            r.Fail(e);
        }
    }

    private async ValueTask ReadAsync(FuseRequest r, ulong fh, int size, long off)
    {
        using var lease = await _fs.LeaseAsync(fh, off, size, r.Token).ConfigureAwait(false);
        ReplyLease(r, lease);
    }

    /// <summary>
    /// Replies with the lease's segments, gathered by the kernel, without copying them first; a lease of a cache
    /// file's range goes as its descriptor and position, which libfuse splices from the page cache (one copy, in the
    /// kernel, instead of a read into our buffer and a write of it).
    /// </summary>
    private static unsafe void ReplyLease(FuseRequest r, Core.Reading.ReadLease lease)
    {
        if (lease.File is { } file)
        {
            // The lease keeps the descriptor open (its reference count) until it is disposed, after this reply.
            var bufv = new FuseBufvec
            {
                Count = 1,
                Buf0 = new FuseBuf
                {
                    Size = (nuint)file.Length,
                    Flags = FuseBuf.IsFd | FuseBuf.FdSeek,
                    Fd = (int)file.Handle.DangerousGetHandle(),
                    Pos = file.Offset,
                },
            };
            r.ReplyData(&bufv);
            return;
        }
        var segments = lease.Segments;
        Span<Iovec> iov = stackalloc Iovec[Math.Max(1, segments.Count)];
        var pins = new System.Buffers.MemoryHandle[segments.Count];
        try
        {
            for (int i = 0; i < segments.Count; i++)
            {
                pins[i] = segments[i].AsMemory().Pin();
                iov[i].Base = (nint)pins[i].Pointer;
                iov[i].Length = (nuint)segments[i].Count;
            }
            fixed (Iovec* p = iov)
            {
                r.ReplyIov(p, segments.Count);
            }
        }
        finally
        {
            foreach (var pin in pins) pin.Dispose();
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnWrite(nint req, ulong ino, byte* buf, nuint size, long off, FuseFileInfo* fi)
    {
        if (!Begin(req, "write", out var a, out var r)) return;
        ArraySegment<byte> copy = default;
        try
        {
            if (off < 0 || size > int.MaxValue) throw new FileSystemException(FsError.InvalidArgument, $"write of {size} bytes at {off}");
            int n = (int)size;
            // The kernel's buffer is only valid during this call: copy it before going asynchronous.
            copy = BufferPool.Shared.Rent(n);
            new ReadOnlySpan<byte>(buf, n).CopyTo(copy.AsSpan());
            var data = copy;
            copy = default;
            a.Run(r, a.WriteAsync(r, fi->Fh, data, n, off));
        }
        catch (Exception e)
        {
            if (copy.Array is not null) BufferPool.Shared.Return(copy);
            r.Fail(e);
        }
    }

    private async ValueTask WriteAsync(FuseRequest r, ulong fh, ArraySegment<byte> data, int count, long off)
    {
        try
        {
            int n = await _fs.WriteAsync(fh, off, data.AsMemory(0, count), r.Token).ConfigureAwait(false);
            r.ReplyWrite((nuint)n);
        }
        finally
        {
            BufferPool.Shared.Return(data);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnFlush(nint req, ulong ino, FuseFileInfo* fi)
    {
        if (!Begin(req, "flush", out var a, out var r)) return;
        try
        {
            a.Run(r, a.ReplyOk(r, a._fs.FlushAsync(fi->Fh, r.Token)));
        }
        catch (Exception e)
        {
            r.Fail(e);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnFsync(nint req, ulong ino, int datasync, FuseFileInfo* fi)
    {
        if (!Begin(req, "fsync", out var a, out var r)) return;
        try
        {
            a.Run(r, a.ReplyOk(r, a._fs.FsyncAsync(fi->Fh, r.Token)));
        }
        catch (Exception e)
        {
            r.Fail(e);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnRelease(nint req, ulong ino, FuseFileInfo* fi)
    {
        if (!Begin(req, "release", out var a, out var r)) return;
        try
        {
            // Release cannot fail for the caller (close already returned); what it uploads keeps its data on failure.
            a.Run(r, a.ReplyOk(r, a._fs.ReleaseAsync(fi->Fh)));
        }
        catch (Exception e)
        {
            r.Fail(e);
        }
    }
}
