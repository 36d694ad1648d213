using System.Runtime.InteropServices;
using System.Text;

namespace CloudMount.Tests.Model;

/// <summary>A call into a target did not return within its bound.</summary>
public sealed class TargetHangException(string message) : Exception(message);

/// <summary>
/// Runs ops as real syscalls (libc) on a directory: a local one (the reference) or one inside a mount. Each op runs
/// on a pool thread with a bound; when a call hangs past it, <see cref="OnHang"/> runs (the mount test aborts the
/// FUSE connection so the thread returns) and the run fails as a hang.
/// </summary>
public sealed class SyscallTarget(string name, string root) : ITarget
{
    private readonly Dictionary<int, int> _fds = [];

    public string Name { get; } = name;

    public string Root { get; } = root;

    /// <summary>How long one op may take.</summary>
    public TimeSpan Bound { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Runs when an op hangs past <see cref="Bound"/>, before the run fails (to unblock the thread).</summary>
    public Func<Task>? OnHang { get; init; }

    /// <summary>How long a tick waits (the mount's metadata TTL and a margin; 0 for a local directory).</summary>
    public TimeSpan TickDelay { get; init; } = TimeSpan.Zero;

    /// <summary>Unmounts and mounts again (null: remount only closes descriptors).</summary>
    public Func<Task>? Remount { get; init; }

    private string P(string path) => path.Length == 0 ? Root : System.IO.Path.Combine(Root, path);

    private async Task<T> Bounded<T>(string what, Func<T> call)
    {
        var task = Task.Run(call);
        if (await Task.WhenAny(task, Task.Delay(Bound)) != task)
        {
            if (OnHang is not null) await OnHang();
            throw new TargetHangException($"hang: {what} on {Name} did not return within {Bound.TotalSeconds:0} s");
        }
        return await task;
    }

    private static Outcome Err() => Outcome.Err(ErrnoNames.Of(Libc.Errno));

    public async Task<Outcome> RunAsync(Op op)
    {
        switch (op)
        {
            case TickOp:
                if (TickDelay > TimeSpan.Zero) await Task.Delay(TickDelay);
                return Outcome.Ok;
            case DropCachesOp:
                return Outcome.Ok; // drop_caches is machine-wide; other runs share this machine
            case RemountOp:
            {
                var closes = await CloseAllWithResultsAsync();
                if (Remount is not null) await Remount();
                return closes;
            }
        }
        return await Bounded(op.ToString(), () => Run(op));
    }

    private unsafe Outcome Run(Op op)
    {
        switch (op)
        {
            case OpenOp o:
            {
                int flags = (o.Access switch { Access.R => Libc.ORdOnly, Access.W => Libc.OWrOnly, _ => Libc.ORdWr }) | Libc.OCloexec
                    | (o.Create ? Libc.OCreat : 0) | (o.Excl ? Libc.OExcl : 0) | (o.Trunc ? Libc.OTrunc : 0) | (o.Append ? Libc.OAppend : 0);
                int fd = Libc.Open(P(o.Path), flags, 0x1A4);
                if (fd < 0) return Err();
                if (_fds.Remove(o.Slot, out int old)) Libc.Close(old); // a successful open into a used slot closes what was there
                _fds[o.Slot] = fd;
                return Outcome.Ok;
            }
            case WriteOp w:
            {
                if (!_fds.TryGetValue(w.Slot, out int fd)) return Outcome.Skip;
                var data = w.Data();
                long done = 0;
                fixed (byte* p = data)
                {
                    while (done < data.Length || data.Length == 0)
                    {
                        nint n = Libc.Pwrite(fd, p + done, (nint)(data.Length - done), w.Offset + done);
                        if (n < 0) return Err();
                        done += n;
                        if (n == 0) break;
                    }
                }
                return new("ok", done.ToString());
            }
            case ReadOp r:
            {
                if (!_fds.TryGetValue(r.Slot, out int fd)) return Outcome.Skip;
                var (errno, data) = ReadFd(fd, r.Offset, r.Length);
                return errno is null ? new("ok", Steps.Bytes(data)) : Outcome.Err(errno);
            }
            case TruncateOp t: return Libc.Truncate(P(t.Path), t.Size) == 0 ? Outcome.Ok : Err();
            case FtruncateOp f: return !_fds.TryGetValue(f.Slot, out int ffd) ? Outcome.Skip : Libc.Ftruncate(ffd, f.Size) == 0 ? Outcome.Ok : Err();
            case FsyncOp s: return !_fds.TryGetValue(s.Slot, out int sfd) ? Outcome.Skip : Libc.Fsync(sfd) == 0 ? Outcome.Ok : Err();
            case CloseOp c: return !_fds.Remove(c.Slot, out int cfd) ? Outcome.Skip : Libc.Close(cfd) == 0 ? Outcome.Ok : Err();
            case UnlinkOp u: return Libc.Unlink(P(u.Path)) == 0 ? Outcome.Ok : Err();
            case MkdirOp m: return Libc.Mkdir(P(m.Path), 0x1ED) == 0 ? Outcome.Ok : Err();
            case RmdirOp d: return Libc.Rmdir(P(d.Path)) == 0 ? Outcome.Ok : Err();
            case RenameOp rn:
                return Libc.Renameat2(Libc.AtFdCwd, P(rn.From), Libc.AtFdCwd, P(rn.To), rn.NoReplace ? Libc.RenameNoReplace : 0) == 0 ? Outcome.Ok : Err();
            case SymlinkOp s: return Libc.Symlink(s.Target, P(s.Path)) == 0 ? Outcome.Ok : Err();
            case ReadlinkOp rl:
            {
                var (errno, target) = ReadLink(P(rl.Path));
                return errno is null ? new("ok", target!) : Outcome.Err(errno);
            }
            case StatOp st:
            {
                int e = Libc.Stat(P(st.Path), follow: true, out var x);
                if (e != 0) return Outcome.Err(ErrnoNames.Of(e));
                return new("ok", (x.Mode & Libc.SIfMt) == Libc.SIfDir ? "d" : $"f {x.Size}");
            }
            case UtimensOp ut:
            {
                var ts = stackalloc Libc.Timespec[2];
                ts[0] = new Libc.Timespec { Sec = ut.Atime.Sec, Nsec = ut.Atime.Nsec };
                ts[1] = new Libc.Timespec { Sec = ut.Mtime.Sec, Nsec = ut.Mtime.Nsec };
                return Libc.Utimensat(Libc.AtFdCwd, P(ut.Path), ts, 0) == 0 ? Outcome.Ok : Err();
            }
            case ChmodOp ch: return Libc.Chmod(P(ch.Path), ch.Mode) == 0 ? Outcome.Ok : Err();
            case SetXattrOp sx:
            {
                var v = Encoding.UTF8.GetBytes(sx.Value);
                fixed (byte* p = v)
                {
                    int flags = (sx.Create ? Libc.XattrCreate : 0) | (sx.Replace ? Libc.XattrReplace : 0);
                    return Libc.Setxattr(P(sx.Path), sx.Name, p, v.Length, flags) == 0 ? Outcome.Ok : Err();
                }
            }
            case GetXattrOp gx:
            {
                var buf = new byte[65536];
                fixed (byte* p = buf)
                {
                    nint n = Libc.Getxattr(P(gx.Path), gx.Name, p, buf.Length);
                    return n < 0 ? Err() : new("ok", Encoding.UTF8.GetString(buf, 0, (int)n));
                }
            }
            case ListXattrOp lx:
            {
                var buf = new byte[65536];
                fixed (byte* p = buf)
                {
                    nint n = Libc.Listxattr(P(lx.Path), p, buf.Length);
                    if (n < 0) return Err();
                    var names = Encoding.UTF8.GetString(buf, 0, (int)n).Split('\0', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal);
                    return new("ok", string.Join(",", names));
                }
            }
            case RemoveXattrOp rx: return Libc.Removexattr(P(rx.Path), rx.Name) == 0 ? Outcome.Ok : Err();
            case ReaddirOp rd:
            {
                var (errno, entries) = List(P(rd.Path));
                return errno is null ? new("ok", PosixModel.Listing(entries!)) : Outcome.Err(errno);
            }
            case CatOp cat:
            {
                var (errno, data) = Cat(P(cat.Path));
                return errno is null ? new("ok", Steps.Bytes(data!)) : Outcome.Err(errno);
            }
            case LinkOp l: return Libc.Link(P(l.From), P(l.To)) == 0 ? Outcome.Ok : Err();
            default: throw new ArgumentException($"syscall target: unknown op {op}");
        }
    }

    private static unsafe (string? Errno, byte[] Data) ReadFd(int fd, long offset, long length)
    {
        using var ms = new MemoryStream();
        var buf = new byte[1 << 20];
        fixed (byte* p = buf)
        {
            while (ms.Length < length)
            {
                nint n = Libc.Pread(fd, p, (nint)Math.Min(buf.Length, length - ms.Length), offset + ms.Length);
                if (n < 0) return (ErrnoNames.Of(Libc.Errno), []);
                if (n == 0) break;
                ms.Write(buf, 0, (int)n);
            }
        }
        return (null, ms.ToArray());
    }

    private static unsafe (string? Errno, string? Target) ReadLink(string path)
    {
        var buf = new byte[4096];
        fixed (byte* p = buf)
        {
            nint n = Libc.Readlink(path, p, buf.Length);
            return n < 0 ? (ErrnoNames.Of(Libc.Errno), null) : (null, Encoding.UTF8.GetString(buf, 0, (int)n));
        }
    }

    private static (string? Errno, byte[]? Data) Cat(string path)
    {
        int fd = Libc.Open(path, Libc.ORdOnly | Libc.OCloexec, 0);
        if (fd < 0) return (ErrnoNames.Of(Libc.Errno), null);
        var (errno, data) = ReadFd(fd, 0, long.MaxValue);
        int closed = Libc.Close(fd);
        if (errno is null && closed != 0) errno = ErrnoNames.Of(Libc.Errno);
        return (errno, errno is null ? data : null);
    }

    private static char Kind(ushort mode) => (mode & Libc.SIfMt) switch { Libc.SIfDir => 'd', Libc.SIfLnk => 'l', Libc.SIfReg => 'f', _ => '?' };

    /// <summary>readdir of a directory, each entry's kind from lstat ('!' when the entry cannot be stat'ed).</summary>
    private static unsafe (string? Errno, List<(string Name, char Kind)>? Entries) List(string dir)
    {
        nint d = Libc.Opendir(dir);
        if (d == 0) return (ErrnoNames.Of(Libc.Errno), null);
        var names = new List<string>();
        try
        {
            byte* e;
            while ((e = Libc.Readdir(d)) != null)
            {
                string name = Marshal.PtrToStringUTF8((nint)(e + 19))!;
                if (name is not "." and not "..") names.Add(name);
            }
        }
        finally
        {
            Libc.Closedir(d);
        }
        return (null, names.Select(n => (n, Libc.Stat(System.IO.Path.Combine(dir, n), follow: false, out var st) == 0 ? Kind(st.Mode) : '!')).ToList());
    }

    public Task<Snapshot> SnapshotAsync(bool contents) => Bounded("snapshot", () =>
    {
        var s = new Snapshot();
        void Walk(string rel)
        {
            var (errno, entries) = List(P(rel));
            if (errno is not null)
            {
                s.Anomalies.Add($"readdir {rel}: {errno}");
                return;
            }
            foreach (var (name, kind) in entries!)
            {
                string p = PathsOf.Join(rel, name);
                switch (kind)
                {
                    case 'd':
                        s.Entries[p] = new EntryState('d', 0);
                        Walk(p);
                        break;
                    case 'l':
                        s.Entries[p] = new EntryState('l', 0, ReadLink(P(p)).Target);
                        break;
                    case 'f':
                        Libc.Stat(P(p), follow: false, out var st);
                        string? digest = null;
                        if (contents)
                        {
                            var (e, data) = Cat(P(p));
                            digest = data is null ? $"cat: {e}" : Snapshot.Digest(data);
                        }
                        s.Entries[p] = new EntryState('f', (long)st.Size, null, digest, st.MtimeSec * TimeSpan.TicksPerSecond + st.MtimeNsec / 100, (uint)(st.Mode & 0xFFF));
                        break;
                    default:
                        s.Anomalies.Add($"{p} is listed but lstat fails or shows type {kind}");
                        break;
                }
            }
        }
        Walk("");
        return s;
    });

    public Task<char?> KindAsync(string path, bool follow) => Bounded("stat", () =>
        Libc.Stat(P(path), follow, out var st) == 0 ? Kind(st.Mode) : (char?)null);

    private async Task<Outcome> CloseAllWithResultsAsync()
    {
        var failures = new List<string>();
        foreach (int slot in _fds.Keys.Order().ToList())
        {
            var r = await Bounded("close", () => Run(new CloseOp(slot)));
            if (!r.IsOk) failures.Add($"close fd{slot}: {r.Errno}");
        }
        return failures.Count == 0 ? Outcome.Ok : Outcome.Err("EIO", string.Join("; ", failures));
    }

    public Task CloseAllAsync() => CloseAllWithResultsAsync();

    public async ValueTask DisposeAsync()
    {
        try
        {
            await CloseAllAsync();
        }
        catch (TargetHangException)
        {
            // Already reported by the run.
        }
    }
}
