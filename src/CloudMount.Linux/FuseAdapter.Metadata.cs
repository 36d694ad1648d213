using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using CloudMount.Core.Vfs;
using CloudMount.Linux.Interop;

namespace CloudMount.Linux;

/// <summary>Extended attributes (object metadata) and symbolic links.</summary>
internal sealed partial class FuseAdapter
{
    private const int XattrCreate = 1;   // XATTR_CREATE
    private const int XattrReplace = 2;  // XATTR_REPLACE

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnReadlink(nint req, ulong ino)
    {
        if (!Begin(req, "readlink", out var a, out var r)) return;
        try
        {
            a.Run(r, a.ReadlinkAsync(r, ino));
        }
        catch (Exception e)
        {
            r.Fail(e);
        }
    }

    private async ValueTask ReadlinkAsync(FuseRequest r, ulong ino) =>
        ReplyReadlink(r, await _fs.ReadLinkAsync(ino, r.Token).ConfigureAwait(false));

    private static unsafe void ReplyReadlink(FuseRequest r, string target)
    {
        byte[] bytes = new byte[Encoding.UTF8.GetByteCount(target) + 1];
        Encoding.UTF8.GetBytes(target, bytes);
        fixed (byte* p = bytes) r.ReplyReadlink(p);
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnSymlink(nint req, byte* link, ulong parent, byte* name)
    {
        if (!Begin(req, "symlink", out var a, out var r)) return;
        try
        {
            string target = Utf8(link);
            string n = Utf8(name);
            r.What = "symlink " + n;
            a.Run(r, a.EntryAsync(r, a._fs.SymlinkAsync(parent, n, target, r.Token)));
        }
        catch (Exception e)
        {
            r.Fail(e);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnGetxattr(nint req, ulong ino, byte* name, nuint size)
    {
        // Only user.* attributes exist here. The kernel asks for security.capability before every write() to a
        // file (to drop capabilities), so every other name is answered at once, on the FUSE thread, without the
        // file system. (That request still costs 4 KiB writes about 40 %; --no-xattrs turns xattrs off.)
        if (!IsUserName(name))
        {
            Libfuse.ReplyErr(req, Errno.ENODATA);
            return;
        }
        if (!Begin(req, "getxattr", out var a, out var r)) return;
        try
        {
            string n = Utf8(name);
            r.What = "getxattr " + n;
            a.Run(r, a.GetxattrAsync(r, ino, n, size));
        }
        catch (Exception e)
        {
            r.Fail(e);
        }
    }

    private static unsafe bool IsUserName(byte* name)
    {
        var prefix = "user."u8;
        for (int i = 0; i < prefix.Length; i++)
        {
            if (name[i] != prefix[i]) return false; // also stops at the terminating zero
        }
        return true;
    }

    private async ValueTask GetxattrAsync(FuseRequest r, ulong ino, string name, nuint size) =>
        ReplySized(r, await _fs.GetXattrAsync(ino, name, r.Token).ConfigureAwait(false), size);

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnListxattr(nint req, ulong ino, nuint size)
    {
        if (!Begin(req, "listxattr", out var a, out var r)) return;
        try
        {
            a.Run(r, a.ListxattrAsync(r, ino, size));
        }
        catch (Exception e)
        {
            r.Fail(e);
        }
    }

    private async ValueTask ListxattrAsync(FuseRequest r, ulong ino, nuint size)
    {
        var all = await _fs.ListXattrAsync(ino, r.Token).ConfigureAwait(false);
        var names = new StringBuilder();
        foreach (var (k, _) in all) names.Append(k).Append('\0');
        ReplySized(r, Encoding.UTF8.GetBytes(names.ToString()), size);
    }

    /// <summary>The xattr reply rule: size 0 asks for the length; a buffer too small is ERANGE.</summary>
    private static unsafe void ReplySized(FuseRequest r, byte[] value, nuint size)
    {
        if (size == 0)
        {
            r.ReplyXattr((nuint)value.Length);
        }
        else if ((nuint)value.Length > size)
        {
            r.ReplyErr(Errno.ERANGE);
        }
        else
        {
            fixed (byte* p = value) r.ReplyBuf(p, (nuint)value.Length);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnSetxattr(nint req, ulong ino, byte* name, byte* value, nuint size, int flags)
    {
        if (!Begin(req, "setxattr", out var a, out var r)) return;
        try
        {
            string n = Utf8(name);
            r.What = "setxattr " + n;
            if (size > 64 * 1024) throw new FileSystemException(FsError.InvalidArgument, $"{n}: a value of {size} bytes is longer than metadata can hold");
            byte[] copy = new ReadOnlySpan<byte>(value, (int)size).ToArray();
            a.Run(r, a.ReplyOk(r, a._fs.SetXattrAsync(ino, n, copy, (flags & XattrCreate) != 0, (flags & XattrReplace) != 0, r.Token)));
        }
        catch (Exception e)
        {
            r.Fail(e);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnRemovexattr(nint req, ulong ino, byte* name)
    {
        if (!Begin(req, "removexattr", out var a, out var r)) return;
        try
        {
            string n = Utf8(name);
            r.What = "removexattr " + n;
            a.Run(r, a.ReplyOk(r, a._fs.RemoveXattrAsync(ino, n, r.Token)));
        }
        catch (Exception e)
        {
            r.Fail(e);
        }
    }
}
