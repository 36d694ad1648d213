using System.Text;
using CloudMount.Core.Vfs;

namespace CloudMount.Tests.Model;

public sealed partial class VfsTarget
{
    private static OpenFlags Flags(Access a, bool trunc, bool append, bool excl) =>
        (a switch { Access.R => OpenFlags.Read, Access.W => OpenFlags.Write, _ => OpenFlags.ReadWrite })
        | (trunc ? OpenFlags.Truncate : 0) | (append ? OpenFlags.Append : 0) | (excl ? OpenFlags.Exclusive : 0);

    private async Task<Outcome> OpenAsync(OpenOp o)
    {
        var outcome = await OpenNewAsync(o);
        if (outcome.handle is { } h)
        {
            // A successful open into a used slot closes what was there (in every target); a failed one leaves it.
            if (_fds.ContainsKey(o.Slot)) await CloseAsync(o.Slot, late: false);
            _fds[o.Slot] = h;
        }
        return outcome.result;
    }

    private async Task<(Outcome result, Handle? handle)> OpenNewAsync(OpenOp o)
    {
        bool write = o.Access != Access.R;
        var flags = Flags(o.Access, o.Trunc && write, o.Append, o.Excl && o.Create);
        Walked w;
        if (o.Create && o.Excl)
        {
            w = await WalkAsync(o.Path, follow: false);
            if (w.Errno is not null) return (Outcome.Err(w.Errno), null);
            if (w.Node is not null) return (Outcome.Err("EEXIST"), null);
        }
        else
        {
            w = await WalkAsync(o.Path, follow: true);
            if (w.Errno is not null) return (Outcome.Err(w.Errno), null);
            if (w.Node is null && !o.Create) return (Outcome.Err("ENOENT"), null);
        }
        if (w.Node is { Kind: NodeKind.Directory } d)
        {
            if (write || o.Create) return (Outcome.Err("EISDIR"), null);
            ulong dh = Fs.OpenDir(d.Ino);
            return (Outcome.Ok, new Handle(d.Ino, dh, true, o.Access, false));
        }
        if (w.Node is { } n)
        {
            var open = await Bounded("open", () => Fs.OpenAsync(n.Ino, flags, None).AsTask());
            return (Outcome.Ok, new Handle(n.Ino, open.Handle, false, o.Access, o.Append));
        }
        var (entry, created) = await Bounded("create", () => Fs.CreateAsync(w.Dir, w.Name, flags, None).AsTask());
        Took(entry.Attributes.Ino, w.Dir);
        return (Outcome.Ok, new Handle(entry.Attributes.Ino, created.Handle, false, o.Access, o.Append));
    }

    private async Task<Outcome> WriteAsync(WriteOp op)
    {
        if (!_fds.TryGetValue(op.Slot, out var h)) return Outcome.Skip;
        if (h.IsDir || h.Access == Access.R) return Outcome.Err("EBADF");
        if (op.Length == 0) return new("ok", "0");
        var data = op.Data();
        // O_APPEND: the kernel writes at the size it knows (without writeback caching the file system places it).
        long at = h.Append ? (await Bounded("getattr", () => Fs.GetAttrAsync(h.Ino, None).AsTask())).Size : op.Offset;
        int done = 0;
        while (done < data.Length)
        {
            int chunk = Math.Min(MaxRequest, data.Length - done);
            int n = await Bounded("write", () => Fs.WriteAsync(h.Fh, at + done, data.AsMemory(done, chunk), None).AsTask());
            done += n;
            if (n < chunk) break;
        }
        return new("ok", done.ToString());
    }

    private async Task<Outcome> ReadAsync(ReadOp op)
    {
        if (!_fds.TryGetValue(op.Slot, out var h)) return Outcome.Skip;
        if (h.IsDir) return Outcome.Err("EISDIR");
        if (h.Access == Access.W) return Outcome.Err("EBADF");
        return new("ok", Steps.Bytes(await ReadRangeAsync(h.Fh, op.Offset, op.Length)));
    }

    private async Task<byte[]> ReadRangeAsync(ulong fh, long offset, long length)
    {
        using var ms = new MemoryStream();
        var buf = new byte[MaxRequest];
        while (ms.Length < length)
        {
            int want = (int)Math.Min(MaxRequest, length - ms.Length);
            int n = await Bounded("read", () => Fs.ReadAsync(fh, offset + ms.Length, buf.AsMemory(0, want), None).AsTask());
            ms.Write(buf, 0, n);
            if (n < want) break;
        }
        return ms.ToArray();
    }

    private async Task<Outcome> TruncateAsync(TruncateOp op)
    {
        if (op.Size < 0) return Outcome.Err("EINVAL");
        var w = await WalkAsync(op.Path, follow: true);
        if (w.Errno is not null) return Outcome.Err(w.Errno);
        if (w.Node is not { } n) return Outcome.Err("ENOENT");
        if (n.Kind == NodeKind.Directory) return Outcome.Err("EISDIR");
        if (op.Size < 0) return Outcome.Err("EINVAL");
        await Bounded("setattr size", () => Fs.SetAttrAsync(n.Ino, new SetAttributes { Size = op.Size }, null, None).AsTask());
        return Outcome.Ok;
    }

    private async Task<Outcome> FtruncateAsync(FtruncateOp op)
    {
        if (!_fds.TryGetValue(op.Slot, out var h)) return Outcome.Skip;
        if (h.IsDir || h.Access == Access.R || op.Size < 0) return Outcome.Err("EINVAL");
        await Bounded("setattr size", () => Fs.SetAttrAsync(h.Ino, new SetAttributes { Size = op.Size }, h.Fh, None).AsTask());
        return Outcome.Ok;
    }

    private async Task<Outcome> FsyncAsync(FsyncOp op)
    {
        if (!_fds.TryGetValue(op.Slot, out var h)) return Outcome.Skip;
        if (!h.IsDir) await Bounded("fsync", () => Fs.FsyncAsync(h.Fh, None).AsTask());
        return Outcome.Ok;
    }

    private async Task<Outcome> CloseAsync(int slot, bool late)
    {
        if (!_fds.Remove(slot, out var h)) return Outcome.Skip;
        if (h.IsDir)
        {
            Fs.ReleaseDir(h.Fh);
            return Outcome.Ok;
        }
        Outcome result = Outcome.Ok;
        try
        {
            await Bounded("flush", () => Fs.FlushAsync(h.Fh, None).AsTask());
        }
        catch (Exception e) when (e is not TargetHangException)
        {
            result = Errno(e);
        }
        if (late) _lateReleases.Add(h.Fh);
        else await ReleaseAsync(h.Fh);
        if (!IsOpen(h.Ino) && _forgetAtClose.Remove(h.Ino)) ForgetAll(h.Ino);
        return result;
    }

    private async Task<Outcome> UnlinkAsync(UnlinkOp op)
    {
        var w = await WalkAsync(op.Path, follow: false);
        if (w.Errno is not null) return Outcome.Err(w.Errno);
        if (w.Node is not { } n) return Outcome.Err("ENOENT");
        if (n.Kind == NodeKind.Directory) return Outcome.Err("EISDIR");
        await Bounded("unlink", () => Fs.UnlinkAsync(w.Dir, w.Name, None).AsTask());
        Removed(n.Ino);
        return Outcome.Ok;
    }

    private async Task<Outcome> MkdirAsync(MkdirOp op)
    {
        var w = await WalkAsync(op.Path, follow: false);
        if (w.Errno is not null) return Outcome.Err(w.Errno);
        if (w.Node is not null) return Outcome.Err("EEXIST");
        var e = await Bounded("mkdir", () => Fs.MkdirAsync(w.Dir, w.Name, None).AsTask());
        Took(e.Attributes.Ino, w.Dir);
        return Outcome.Ok;
    }

    private async Task<Outcome> RmdirAsync(RmdirOp op)
    {
        var w = await WalkAsync(op.Path, follow: false);
        if (w.Errno is not null) return Outcome.Err(w.Errno);
        if (w.Node is not { } n) return Outcome.Err("ENOENT");
        if (n.Kind != NodeKind.Directory) return Outcome.Err("ENOTDIR");
        await Bounded("rmdir", () => Fs.RmdirAsync(w.Dir, w.Name, None).AsTask());
        Removed(n.Ino);
        return Outcome.Ok;
    }

    private async Task<Outcome> RenameAsync(RenameOp op)
    {
        var (e1, fromDir, fromChain) = await ParentAsync(op.From);
        if (e1 is not null) return Outcome.Err(e1);
        var (e2, toDir, toChain) = await ParentAsync(op.To);
        if (e2 is not null) return Outcome.Err(e2);
        string fromName = PathsOf.Name(op.From), toName = PathsOf.Name(op.To);
        var src = await LookupAsync(fromDir, fromName);
        if (src is not { } s) return Outcome.Err("ENOENT");
        var dst = await LookupAsync(toDir, toName);
        if (op.NoReplace && dst is not null) return Outcome.Err("EEXIST");
        if (fromDir != toDir)
        {
            // lock_rename's traps: the source must not be an ancestor of the target's directory, nor the target of the source's.
            int i = toChain.IndexOf(fromDir);
            if (i >= 0 && i + 1 < toChain.Count && toChain[i + 1] == s.Ino) return Outcome.Err("EINVAL");
            int j = fromChain.IndexOf(toDir);
            if (dst is { } dd && j >= 0 && j + 1 < fromChain.Count && fromChain[j + 1] == dd.Ino) return Outcome.Err("ENOTEMPTY");
        }
        if (dst is { } d0 && d0.Ino == s.Ino) return Outcome.Ok;
        if (dst is { } d)
        {
            if (s.Kind == NodeKind.Directory && d.Kind != NodeKind.Directory) return Outcome.Err("ENOTDIR");
            if (s.Kind != NodeKind.Directory && d.Kind == NodeKind.Directory) return Outcome.Err("EISDIR");
        }
        await Bounded("rename", () => Fs.RenameAsync(fromDir, fromName, toDir, toName, op.NoReplace ? RenameFlags.NoReplace : RenameFlags.None, None).AsTask());
        if (dst is { } replaced) Removed(replaced.Ino);
        _parentOf[s.Ino] = toDir; // d_move
        return Outcome.Ok;
    }

    private async Task<Outcome> SymlinkAsync(SymlinkOp op)
    {
        if (op.Target.Length == 0) return Outcome.Err("ENOENT");
        var w = await WalkAsync(op.Path, follow: false);
        if (w.Errno is not null) return Outcome.Err(w.Errno);
        if (w.Node is not null) return Outcome.Err("EEXIST");
        var e = await Bounded("symlink", () => Fs.SymlinkAsync(w.Dir, w.Name, op.Target, None).AsTask());
        Took(e.Attributes.Ino, w.Dir);
        return Outcome.Ok;
    }

    private async Task<Outcome> ReadlinkAsync(ReadlinkOp op)
    {
        var w = await WalkAsync(op.Path, follow: false);
        if (w.Errno is not null) return Outcome.Err(w.Errno);
        if (w.Node is not { } n) return Outcome.Err("ENOENT");
        if (n.Kind != NodeKind.Symlink) return Outcome.Err("EINVAL");
        return new("ok", await Bounded("readlink", () => Fs.ReadLinkAsync(n.Ino, None).AsTask()));
    }

    private async Task<(Outcome? Error, NodeAttributes Node)> ExistingAsync(string path)
    {
        var w = await WalkAsync(path, follow: true);
        if (w.Errno is not null) return (Outcome.Err(w.Errno), default);
        if (w.Node is not { } n) return (Outcome.Err("ENOENT"), default);
        return (null, n);
    }

    private async Task<Outcome> StatAsync(StatOp op)
    {
        var (err, n) = await ExistingAsync(op.Path);
        if (err is { } e) return e;
        var a = await Bounded("getattr", () => Fs.GetAttrAsync(n.Ino, None).AsTask());
        return new("ok", a.Kind == NodeKind.Directory ? "d" : $"f {a.Size}");
    }

    private static bool ValidTime(Ts t) => t.IsNow || t.IsOmit || t.Nsec is >= 0 and < 1_000_000_000;

    private async Task<Outcome> UtimensAsync(UtimensOp op)
    {
        var (err, n) = await ExistingAsync(op.Path);
        if (err is { } e) return e;
        if (!ValidTime(op.Atime) || !ValidTime(op.Mtime)) return Outcome.Err("EINVAL");
        DateTimeOffset? Time(Ts t) => t.IsOmit ? null : t.IsNow ? Clock.GetUtcNow() : t.ToDateTimeOffset();
        var changes = new SetAttributes { Atime = Time(op.Atime), Mtime = Time(op.Mtime) };
        await Bounded("setattr times", () => Fs.SetAttrAsync(n.Ino, changes, null, None).AsTask());
        return Outcome.Ok;
    }

    private async Task<Outcome> ChmodAsync(ChmodOp op)
    {
        var (err, n) = await ExistingAsync(op.Path);
        if (err is { } e) return e;
        await Bounded("setattr mode", () => Fs.SetAttrAsync(n.Ino, new SetAttributes { Mode = op.Mode & 0xFFF }, null, None).AsTask());
        return Outcome.Ok;
    }

    private async Task<Outcome> XattrAsync(Op op)
    {
        string path = op switch { SetXattrOp s => s.Path, GetXattrOp g => g.Path, ListXattrOp l => l.Path, RemoveXattrOp r => r.Path, _ => "" };
        var (err, n) = await ExistingAsync(path);
        if (err is { } e) return e;
        switch (op)
        {
            case SetXattrOp s:
                await Bounded("setxattr", () => Fs.SetXattrAsync(n.Ino, s.Name, Encoding.UTF8.GetBytes(s.Value), s.Create, s.Replace, None).AsTask());
                return Outcome.Ok;
            case GetXattrOp g:
                return new("ok", Encoding.UTF8.GetString(await Bounded("getxattr", () => Fs.GetXattrAsync(n.Ino, g.Name, None).AsTask())));
            case ListXattrOp:
                var all = await Bounded("listxattr", () => Fs.ListXattrAsync(n.Ino, None).AsTask());
                return new("ok", string.Join(",", all.Select(kv => kv.Key).Order(StringComparer.Ordinal)));
            case RemoveXattrOp r:
                await Bounded("removexattr", () => Fs.RemoveXattrAsync(n.Ino, r.Name, None).AsTask());
                return Outcome.Ok;
        }
        return Outcome.Skip;
    }

    /// <summary>OPENDIR, READDIRPLUS until empty, RELEASEDIR: the entries without . and .. (each takes a lookup reference).</summary>
    private async Task<List<DirectoryEntry>> ListDirAsync(ulong ino)
    {
        ulong fh = Fs.OpenDir(ino);
        var all = new List<DirectoryEntry>();
        try
        {
            long offset = 0;
            while (true)
            {
                var batch = new List<DirectoryEntry>();
                await Bounded("readdirplus", () => Fs.ReadDirAsync(ino, fh, offset, true, (in DirectoryEntry e) =>
                {
                    if (batch.Count == 20) return false;
                    batch.Add(e);
                    return true;
                }, None).AsTask());
                if (batch.Count == 0) break;
                foreach (var e in batch)
                {
                    if (e.Name is not "." and not "..") Took(e.Attributes.Ino, ino);
                }
                all.AddRange(batch);
                offset = batch[^1].NextOffset;
            }
        }
        finally
        {
            Fs.ReleaseDir(fh);
        }
        return all.Where(e => e.Name is not "." and not "..").ToList();
    }

    private async Task<Outcome> ReaddirOpAsync(ReaddirOp op)
    {
        var (err, n) = await ExistingAsync(op.Path);
        if (err is { } e) return e;
        if (n.Kind != NodeKind.Directory) return Outcome.Err("ENOTDIR");
        var entries = await ListDirAsync(n.Ino);
        return new("ok", PosixModel.Listing(entries.Select(x => (x.Name, KindChar(x.Attributes.Kind)))));
    }

    private async Task<(Outcome Result, byte[]? Data)> CatBytesAsync(ulong ino)
    {
        var open = await Bounded("open", () => Fs.OpenAsync(ino, OpenFlags.Read, None).AsTask());
        byte[] data;
        Outcome result = Outcome.Ok;
        try
        {
            data = await ReadRangeAsync(open.Handle, 0, long.MaxValue);
        }
        catch (Exception e) when (e is not TargetHangException)
        {
            data = [];
            result = Errno(e);
        }
        try
        {
            await Bounded("flush", () => Fs.FlushAsync(open.Handle, None).AsTask());
        }
        catch (Exception e) when (e is not TargetHangException)
        {
            if (result.IsOk) result = Errno(e);
        }
        await ReleaseAsync(open.Handle);
        return (result, result.IsOk ? data : null);
    }

    private async Task<Outcome> CatAsync(CatOp op)
    {
        var (err, n) = await ExistingAsync(op.Path);
        if (err is { } e) return e;
        if (n.Kind == NodeKind.Directory) return Outcome.Err("EISDIR");
        var (result, data) = await CatBytesAsync(n.Ino);
        return data is null ? result : new("ok", Steps.Bytes(data));
    }

    /// <summary>The tree by READDIRPLUS, LOOKUP and GETATTR; readdir and stat disagreeing is an anomaly.</summary>
    public async Task<Snapshot> SnapshotAsync(bool contents)
    {
        var s = new Snapshot();
        async Task WalkDir(ulong ino, string prefix)
        {
            foreach (var e in await ListDirAsync(ino))
            {
                string p = PathsOf.Join(prefix, e.Name);
                var looked = await LookupAsync(ino, e.Name);
                if (looked is not { } l)
                {
                    s.Anomalies.Add($"{p} is listed but its lookup gives ENOENT");
                    continue;
                }
                if (l.Kind != e.Attributes.Kind) s.Anomalies.Add($"{p} is listed as {e.Attributes.Kind} but looks up as {l.Kind}");
                var a = await Bounded("getattr", () => Fs.GetAttrAsync(l.Ino, None).AsTask());
                switch (a.Kind)
                {
                    case NodeKind.Directory:
                        s.Entries[p] = new EntryState('d', 0);
                        await WalkDir(l.Ino, p);
                        break;
                    case NodeKind.Symlink:
                        s.Entries[p] = new EntryState('l', 0, await Bounded("readlink", () => Fs.ReadLinkAsync(l.Ino, None).AsTask()));
                        break;
                    default:
                        if (e.Attributes.Size != a.Size) s.Anomalies.Add($"{p}: readdir says {e.Attributes.Size} B, stat says {a.Size} B");
                        string? digest = null;
                        if (contents)
                        {
                            var (r, data) = await CatBytesAsync(l.Ino);
                            digest = data is null ? $"cat: {r}" : Snapshot.Digest(data);
                        }
                        s.Entries[p] = new EntryState('f', a.Size, null, digest,
                            a.Mtime.ToDateTimeOffset().UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks, a.Mode & 0xFFF);
                        break;
                }
            }
        }
        await WalkDir(CloudFileSystem.RootIno, "");
        return s;
    }
}
