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
    private static unsafe void OnReadlink(nint req, ulong ino)
    {
        Guard(req, "readlink", a => a.Run(req, a.ReadlinkAsync(req, ino), "readlink"));
    }

    private async ValueTask ReadlinkAsync(nint req, ulong ino)
    {
        string target = await _fs.ReadLinkAsync(ino, _shutdown).ConfigureAwait(false);
        ReplyReadlink(req, target);
    }

    private static unsafe void ReplyReadlink(nint req, string target)
    {
        byte[] bytes = new byte[Encoding.UTF8.GetByteCount(target) + 1];
        Encoding.UTF8.GetBytes(target, bytes);
        fixed (byte* p = bytes) Libfuse.ReplyReadlink(req, p);
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnSymlink(nint req, byte* link, ulong parent, byte* name)
    {
        string target = Utf8(link);
        string n = Utf8(name);
        Guard(req, "symlink", a => a.Run(req, a.SymlinkAsync(req, target, parent, n), "symlink " + n));
    }

    private async ValueTask SymlinkAsync(nint req, string target, ulong parent, string name) =>
        ReplyEntry(req, await _fs.SymlinkAsync(parent, name, target, _shutdown).ConfigureAwait(false));

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
        string n = Utf8(name);
        Guard(req, "getxattr", a => a.Run(req, a.GetxattrAsync(req, ino, n, size), "getxattr " + n));
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

    private async ValueTask GetxattrAsync(nint req, ulong ino, string name, nuint size)
    {
        byte[] value = await _fs.GetXattrAsync(ino, name, _shutdown).ConfigureAwait(false);
        ReplySized(req, value, size);
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnListxattr(nint req, ulong ino, nuint size)
    {
        Guard(req, "listxattr", a => a.Run(req, a.ListxattrAsync(req, ino, size), "listxattr"));
    }

    private async ValueTask ListxattrAsync(nint req, ulong ino, nuint size)
    {
        var all = await _fs.ListXattrAsync(ino, _shutdown).ConfigureAwait(false);
        var names = new StringBuilder();
        foreach (var (k, _) in all) names.Append(k).Append('\0');
        ReplySized(req, Encoding.UTF8.GetBytes(names.ToString()), size);
    }

    /// <summary>The xattr reply rule: size 0 asks for the length; a buffer too small is ERANGE.</summary>
    private static unsafe void ReplySized(nint req, byte[] value, nuint size)
    {
        if (size == 0)
        {
            Libfuse.ReplyXattr(req, (nuint)value.Length);
        }
        else if ((nuint)value.Length > size)
        {
            Libfuse.ReplyErr(req, Errno.ERANGE);
        }
        else
        {
            fixed (byte* p = value) Libfuse.ReplyBuf(req, p, (nuint)value.Length);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnSetxattr(nint req, ulong ino, byte* name, byte* value, nuint size, int flags)
    {
        string n = Utf8(name);
        byte[] copy = new ReadOnlySpan<byte>(value, (int)size).ToArray();
        Guard(req, "setxattr", a => a.Run(req, a.ReplyOk(req, a._fs.SetXattrAsync(ino, n, copy, (flags & XattrCreate) != 0, (flags & XattrReplace) != 0, a._shutdown)), "setxattr " + n));
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnRemovexattr(nint req, ulong ino, byte* name)
    {
        string n = Utf8(name);
        Guard(req, "removexattr", a => a.Run(req, a.ReplyOk(req, a._fs.RemoveXattrAsync(ino, n, a._shutdown)), "removexattr " + n));
    }
}
