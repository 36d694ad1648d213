using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using CloudMount.Core.Vfs;
using CloudMount.Linux.Interop;

namespace CloudMount.Linux;

/// <summary>Directories: opendir, readdir(plus), releasedir, fsyncdir.</summary>
internal sealed partial class FuseAdapter
{
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnOpendir(nint req, ulong ino, FuseFileInfo* fi)
    {
        if (!Begin(req, "opendir", out var a, out var r)) return;
        try
        {
            ulong fh = a._fs.OpenDir(ino);
            FuseFileInfo reply = default;
            reply.Fh = fh;
            if (r.ReplyOpen(&reply) != 0) a._fs.ReleaseDir(fh);
        }
        catch (Exception e)
        {
            r.Fail(e);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnReleasedir(nint req, ulong ino, FuseFileInfo* fi)
    {
        if (!Begin(req, "releasedir", out var a, out var r)) return;
        try
        {
            a._fs.ReleaseDir(fi->Fh);
            r.ReplyErr(0);
        }
        catch (Exception e)
        {
            r.Fail(e);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnFsyncdir(nint req, ulong ino, int datasync, FuseFileInfo* fi)
    {
        if (!Begin(req, "fsyncdir", out _, out var r)) return;
        r.ReplyErr(0);
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnReaddir(nint req, ulong ino, nuint size, long off, FuseFileInfo* fi)
    {
        if (!Begin(req, "readdir", out var a, out var r)) return;
        try
        {
            if (off < 0 || size > 1 << 24) throw new FileSystemException(FsError.InvalidArgument, $"readdir of {size} bytes at {off}");
            a.Run(r, a.ReaddirAsync(r, ino, fi->Fh, (int)size, off, plus: false));
        }
        catch (Exception e)
        {
            r.Fail(e);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnReaddirplus(nint req, ulong ino, nuint size, long off, FuseFileInfo* fi)
    {
        if (!Begin(req, "readdirplus", out var a, out var r)) return;
        try
        {
            if (off < 0 || size > 1 << 24) throw new FileSystemException(FsError.InvalidArgument, $"readdirplus of {size} bytes at {off}");
            a.Run(r, a.ReaddirAsync(r, ino, fi->Fh, (int)size, off, plus: true));
        }
        catch (Exception e)
        {
            r.Fail(e);
        }
    }

    private async ValueTask ReaddirAsync(FuseRequest r, ulong ino, ulong fh, int size, long off, bool plus)
    {
        using var writer = new DirentWriter(r, size, plus, _fs.AttrTimeoutSeconds);
        await _fs.ReadDirAsync(ino, fh, off, plus, writer.TryAdd, r.Token).ConfigureAwait(false);
        if (writer.Reply() != 0)
        {
            // readdirplus entries carry a lookup reference each; the kernel did not get them.
            foreach (ulong child in writer.Added) _fs.Forget(child, 1);
        }
    }

    /// <summary>Packs entries into a readdir reply buffer with fuse_add_direntry(_plus).</summary>
    private sealed unsafe class DirentWriter(FuseRequest r, int size, bool plus, double timeout) : IDisposable
    {
        private readonly byte* _buffer = (byte*)NativeMemory.Alloc((nuint)Math.Max(1, size));

        public int Used { get; private set; }

        /// <summary>Inodes of readdirplus entries added (each took a lookup reference).</summary>
        public List<ulong> Added { get; } = [];

        public int Reply() => r.ReplyBuf(_buffer, (nuint)Used);

        public void Dispose() => NativeMemory.Free(_buffer);

        public bool TryAdd(in DirectoryEntry entry)
        {
            int max = Encoding.UTF8.GetMaxByteCount(entry.Name.Length) + 1;
            Span<byte> name = max <= 1024 ? stackalloc byte[max] : new byte[max];
            int len = Encoding.UTF8.GetBytes(entry.Name, name);
            name[len] = 0;
            nuint remaining = (nuint)(size - Used);
            nuint needed;
            fixed (byte* n = name)
            {
                if (plus)
                {
                    FuseEntryParam e = default;
                    FuseStat.Fill(ref e, new EntryReply(entry.Attributes, timeout, timeout));
                    needed = r.AddDirentryPlus(_buffer + Used, remaining, n, &e, entry.NextOffset);
                }
                else
                {
                    Stat st = default;
                    FuseStat.Fill(ref st, entry.Attributes);
                    needed = r.AddDirentry(_buffer + Used, remaining, n, &st, entry.NextOffset);
                }
            }
            if (needed > remaining) return false;
            Used += (int)needed;
            if (plus && entry.Name is not ("." or "..")) Added.Add(entry.Attributes.Ino);
            return true;
        }
    }
}
