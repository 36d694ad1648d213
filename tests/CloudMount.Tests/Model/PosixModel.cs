namespace CloudMount.Tests.Model;

/// <summary>
/// An in-memory model of POSIX file-system behaviour as Linux shows it (ext4 as the reference): names, files with
/// their bytes, directories, symlinks, extended attributes, descriptors that keep an unlinked or renamed file,
/// and the errno of every refusal, in the order the kernel checks them. It holds no CloudMount behaviour:
/// where CloudMount documents another answer, that is in <see cref="Divergences"/>. ModelSelfTests check this
/// model against a real local directory.
/// </summary>
public sealed class PosixModel : ITarget, IKnowsDescriptors
{
    /// <summary>Largest file size (ext4 with 4 KiB blocks: 16 TiB); beyond it truncate gives EFBIG.</summary>
    public const long MaxFileSize = 16L << 40;

    /// <summary>Sizes the model actually materialises; the generator never asks for more below <see cref="MaxFileSize"/>.</summary>
    private const long MaxHeld = 64L << 20;

    private sealed class Node
    {
        public required char Kind;
        public Node? Parent;                                   // directories only
        public Dictionary<string, Node>? Children;             // directories only
        public byte[] Data = [];
        public long Size;
        public string? Link;
        public SortedDictionary<string, string> Xattrs = new(StringComparer.Ordinal);
        public long MtimeTicks;
        public bool MtimeExplicit;                             // set by utimens and not changed since
        public uint? Mode;                                     // set by chmod
        public bool Linked = true;

        public void SetSize(long size)
        {
            if (size > MaxHeld) throw new InvalidOperationException($"model asked to hold {size} bytes: a generator bug");
            if (size > Data.Length) Array.Resize(ref Data, (int)Math.Max(size, Math.Min(MaxHeld, Data.Length * 2L)));
            if (size < Size) Array.Clear(Data, (int)size, (int)(Size - size));
            Size = size;
        }
    }

    private sealed record Handle(Node Node, bool Read, bool Write, bool Append);

    private readonly Node _root = new() { Kind = 'd', Children = new(StringComparer.Ordinal) };
    private readonly Dictionary<int, Handle> _fds = [];
    private readonly Func<long> _nowTicks;

    /// <param name="nowTicks">The clock (100 ns ticks since the epoch) that stamps mtimes; the Vfs test shares its manual clock.</param>
    public PosixModel(Func<long>? nowTicks = null) => _nowTicks = nowTicks ?? (() => DateTimeOffset.UtcNow.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks);

    public string Name => "model";

    private long Now => _nowTicks();

    // ------------------------------------------------------------------ path resolution (the kernel's walk)

    private readonly record struct Resolved(string? Errno, Node? Dir, string Name, Node? Node);

    private static Resolved Fail(string errno) => new(errno, null, "", null);

    /// <summary>Walks <paramref name="path"/>: every directory component is followed through symlinks; the final one when <paramref name="follow"/>.</summary>
    private Resolved Resolve(string path, bool follow)
    {
        int links = 0;
        return Walk(_root, path, follow, ref links);
    }

    private Resolved Walk(Node start, string path, bool follow, ref int links)
    {
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var dir = start;
        for (int i = 0; i < parts.Length; i++)
        {
            string name = parts[i];
            if (System.Text.Encoding.UTF8.GetByteCount(name) > 255) return Fail("ENAMETOOLONG");
            dir.Children!.TryGetValue(name, out var n);
            bool last = i == parts.Length - 1;
            if (last && !follow) return new(null, dir, name, n);
            if (n is { Kind: 'l' })
            {
                if (++links > 40) return Fail("ELOOP");
                var t = Walk(dir, n.Link!, follow: true, ref links);
                if (t.Errno is not null) return t;
                if (last) return t;
                if (t.Node is null) return Fail("ENOENT");
                n = t.Node;
            }
            if (last) return new(null, dir, name, n);
            if (n is null) return Fail("ENOENT");
            if (n.Kind != 'd') return Fail("ENOTDIR");
            dir = n;
        }
        return new(null, dir.Parent ?? dir, "", dir);
    }

    // ------------------------------------------------------------------ ops

    public Task<Outcome> RunAsync(Op op) => Task.FromResult(Run(op));

    private Outcome Run(Op op)
    {
        switch (op)
        {
            case OpenOp o: return Open(o);
            case WriteOp w:
            {
                if (!_fds.TryGetValue(w.Slot, out var h)) return Outcome.Skip;
                if (!h.Write) return Outcome.Err("EBADF");
                if (w.Length == 0) return new("ok", "0");
                long at = h.Append ? h.Node.Size : w.Offset;
                if (at + w.Length > h.Node.Size) h.Node.SetSize(at + w.Length);
                w.Data().CopyTo(h.Node.Data.AsSpan((int)at));
                Touch(h.Node);
                return new("ok", w.Length.ToString());
            }
            case ReadOp r:
            {
                if (!_fds.TryGetValue(r.Slot, out var h)) return Outcome.Skip;
                if (h.Node.Kind == 'd') return Outcome.Err("EISDIR");
                if (!h.Read) return Outcome.Err("EBADF");
                return new("ok", Steps.Bytes(Slice(h.Node, r.Offset, r.Length)));
            }
            case TruncateOp t:
            {
                if (t.Size < 0) return Outcome.Err("EINVAL"); // checked before the path (do_sys_truncate)
                var r = Resolve(t.Path, follow: true);
                if (r.Errno is not null) return Outcome.Err(r.Errno);
                if (r.Node is null) return Outcome.Err("ENOENT");
                if (r.Node.Kind == 'd') return Outcome.Err("EISDIR");
                return SetSize(r.Node, t.Size);
            }
            case FtruncateOp f:
            {
                if (!_fds.TryGetValue(f.Slot, out var h)) return Outcome.Skip;
                if (!h.Write || h.Node.Kind == 'd' || f.Size < 0) return Outcome.Err("EINVAL");
                return SetSize(h.Node, f.Size);
            }
            case FsyncOp s: return _fds.ContainsKey(s.Slot) ? Outcome.Ok : Outcome.Skip;
            case CloseOp c: return _fds.Remove(c.Slot) ? Outcome.Ok : Outcome.Skip;
            case UnlinkOp u:
            {
                var r = Resolve(u.Path, follow: false);
                if (r.Errno is not null) return Outcome.Err(r.Errno);
                if (r.Node is null) return Outcome.Err("ENOENT");
                if (r.Node.Kind == 'd') return Outcome.Err("EISDIR");
                Remove(r.Dir!, r.Name);
                return Outcome.Ok;
            }
            case MkdirOp m:
            {
                var r = Resolve(m.Path, follow: false);
                if (r.Errno is not null) return Outcome.Err(r.Errno);
                if (r.Node is not null) return Outcome.Err("EEXIST");
                r.Dir!.Children![r.Name] = new Node { Kind = 'd', Parent = r.Dir, Children = new(StringComparer.Ordinal), MtimeTicks = Now };
                return Outcome.Ok;
            }
            case RmdirOp d:
            {
                var r = Resolve(d.Path, follow: false);
                if (r.Errno is not null) return Outcome.Err(r.Errno);
                if (r.Node is null) return Outcome.Err("ENOENT");
                if (r.Node.Kind != 'd') return Outcome.Err("ENOTDIR");
                if (r.Node.Children!.Count > 0) return Outcome.Err("ENOTEMPTY");
                Remove(r.Dir!, r.Name);
                return Outcome.Ok;
            }
            case RenameOp rn: return Rename(rn);
            case SymlinkOp s:
            {
                if (s.Target.Length == 0) return Outcome.Err("ENOENT");
                var r = Resolve(s.Path, follow: false);
                if (r.Errno is not null) return Outcome.Err(r.Errno);
                if (r.Node is not null) return Outcome.Err("EEXIST");
                r.Dir!.Children![r.Name] = new Node { Kind = 'l', Link = s.Target, Size = System.Text.Encoding.UTF8.GetByteCount(s.Target), MtimeTicks = Now };
                return Outcome.Ok;
            }
            case ReadlinkOp rl:
            {
                var r = Resolve(rl.Path, follow: false);
                if (r.Errno is not null) return Outcome.Err(r.Errno);
                if (r.Node is null) return Outcome.Err("ENOENT");
                if (r.Node.Kind != 'l') return Outcome.Err("EINVAL");
                return new("ok", r.Node.Link!);
            }
            case StatOp st:
            {
                var r = Existing(st.Path, follow: true, out var n);
                return r ?? new("ok", n!.Kind == 'd' ? "d" : $"f {n.Size}");
            }
            case UtimensOp ut:
            {
                var r = Existing(ut.Path, follow: true, out var n);
                if (r is not null) return r.Value;
                if (!Valid(ut.Atime) || !Valid(ut.Mtime)) return Outcome.Err("EINVAL"); // checked after the path (vfs_utimes)
                if (ut.Mtime.IsNow) { n!.MtimeTicks = Now; n.MtimeExplicit = false; }
                else if (!ut.Mtime.IsOmit) { n!.MtimeTicks = ut.Mtime.Sec * TimeSpan.TicksPerSecond + ut.Mtime.Nsec / 100; n.MtimeExplicit = true; }
                return Outcome.Ok;
            }
            case ChmodOp ch:
            {
                var r = Existing(ch.Path, follow: true, out var n);
                if (r is not null) return r.Value;
                n!.Mode = ch.Mode & 0xFFF;
                return Outcome.Ok;
            }
            case SetXattrOp sx:
            {
                var r = Existing(sx.Path, follow: true, out var n);
                if (r is not null) return r.Value;
                bool exists = n!.Xattrs.ContainsKey(sx.Name);
                if (sx.Create && exists) return Outcome.Err("EEXIST");
                if (sx.Replace && !exists) return Outcome.Err("ENODATA");
                n.Xattrs[sx.Name] = sx.Value;
                return Outcome.Ok;
            }
            case GetXattrOp gx:
            {
                var r = Existing(gx.Path, follow: true, out var n);
                if (r is not null) return r.Value;
                return n!.Xattrs.TryGetValue(gx.Name, out var v) ? new("ok", v) : Outcome.Err("ENODATA");
            }
            case ListXattrOp lx:
            {
                var r = Existing(lx.Path, follow: true, out var n);
                return r ?? new("ok", string.Join(",", n!.Xattrs.Keys));
            }
            case RemoveXattrOp rx:
            {
                var r = Existing(rx.Path, follow: true, out var n);
                if (r is not null) return r.Value;
                return n!.Xattrs.Remove(rx.Name) ? Outcome.Ok : Outcome.Err("ENODATA");
            }
            case ReaddirOp rd:
            {
                var r = Existing(rd.Path, follow: true, out var n);
                if (r is not null) return r.Value;
                if (n!.Kind != 'd') return Outcome.Err("ENOTDIR");
                return new("ok", Listing(n));
            }
            case CatOp cat:
            {
                var r = Existing(cat.Path, follow: true, out var n);
                if (r is not null) return r.Value;
                if (n!.Kind == 'd') return Outcome.Err("EISDIR");
                return new("ok", Steps.Bytes(n.Data.AsSpan(0, (int)n.Size)));
            }
            case TickOp or DropCachesOp: return Outcome.Ok;
            case RemountOp:
                _fds.Clear();
                return Outcome.Ok;
            case LinkOp: return Outcome.Err("EPERM"); // never generated for the model (hard links are a documented divergence)
            default: throw new ArgumentException($"model: unknown op {op}");
        }
    }

    private static bool Valid(Ts t) => t.IsNow || t.IsOmit || t.Nsec is >= 0 and < 1_000_000_000;

    private Outcome? Existing(string path, bool follow, out Node? node)
    {
        var r = Resolve(path, follow);
        node = r.Node;
        if (r.Errno is not null) return Outcome.Err(r.Errno);
        if (r.Node is null) return Outcome.Err("ENOENT");
        return null;
    }

    private static ReadOnlySpan<byte> Slice(Node n, long offset, int length)
    {
        if (offset >= n.Size) return [];
        return n.Data.AsSpan((int)offset, (int)Math.Min(length, n.Size - offset));
    }

    public static string Listing(IEnumerable<(string Name, char Kind)> entries) =>
        string.Join(",", entries.OrderBy(e => e.Name, StringComparer.Ordinal).Select(e => $"{e.Name}:{e.Kind}"));

    private static string Listing(Node dir) => Listing(dir.Children!.Select(c => (c.Key, c.Value.Kind)));

    private void Touch(Node n)
    {
        n.MtimeTicks = Now;
        n.MtimeExplicit = false;
    }

    private Outcome SetSize(Node n, long size)
    {
        if (size < 0) return Outcome.Err("EINVAL");
        if (size > MaxFileSize) return Outcome.Err("EFBIG");
        n.SetSize(size);
        Touch(n);
        return Outcome.Ok;
    }

    private static void Remove(Node dir, string name)
    {
        var n = dir.Children![name];
        dir.Children.Remove(name);
        n.Linked = false;
    }

    private Outcome Open(OpenOp o)
    {
        bool write = o.Access != Access.R;
        Resolved r;
        if (o.Create && o.Excl)
        {
            r = Resolve(o.Path, follow: false);
            if (r.Errno is not null) return Outcome.Err(r.Errno);
            if (r.Node is not null) return Outcome.Err("EEXIST");
        }
        else
        {
            r = Resolve(o.Path, follow: true);
            if (r.Errno is not null) return Outcome.Err(r.Errno);
            if (r.Node is null && !o.Create) return Outcome.Err("ENOENT");
        }
        var n = r.Node;
        if (n is { Kind: 'd' } && (write || o.Create)) return Outcome.Err("EISDIR");
        if (n is null)
        {
            if (r.Dir is null) return Outcome.Err("ENOENT");
            n = new Node { Kind = 'f', MtimeTicks = Now };
            r.Dir.Children![r.Name] = n;
        }
        else if (o.Trunc && write && n.Kind == 'f')
        {
            n.SetSize(0);
            Touch(n);
        }
        _fds[o.Slot] = new Handle(n, o.Access != Access.W, write, o.Append); // a successful open into a used slot closes what was there (in every target)
        return Outcome.Ok;
    }

    private Outcome Rename(RenameOp op)
    {
        // The kernel's order: both parents are walked, then the old name is looked up, then the new one.
        if (ParentDir(op.From, out var fromDir) is { } e1) return Outcome.Err(e1);
        if (ParentDir(op.To, out var toDir) is { } e2) return Outcome.Err(e2);
        string fromName = PathsOf.Name(op.From), toName = PathsOf.Name(op.To);
        if (System.Text.Encoding.UTF8.GetByteCount(fromName) > 255) return Outcome.Err("ENAMETOOLONG");
        if (!fromDir!.Children!.TryGetValue(fromName, out var srcNode)) return Outcome.Err("ENOENT");
        if (System.Text.Encoding.UTF8.GetByteCount(toName) > 255) return Outcome.Err("ENAMETOOLONG");
        toDir!.Children!.TryGetValue(toName, out var dstNode);
        var from = new Resolved(null, fromDir, fromName, srcNode);
        var to = new Resolved(null, toDir, toName, dstNode);
        var src = srcNode;
        var dst = dstNode;
        if (op.NoReplace && dst is not null) return Outcome.Err("EEXIST");
        if (from.Dir != to.Dir)
        {
            // lock_rename's trap: the child of the common ancestor on the way to the other directory.
            if (ChildToward(from.Dir!, to.Dir!) is { } trap1 && trap1 == src) return Outcome.Err("EINVAL");
            if (ChildToward(to.Dir!, from.Dir!) is { } trap2 && trap2 == dst) return Outcome.Err("ENOTEMPTY");
        }
        if (src == dst) return Outcome.Ok;
        if (dst is not null)
        {
            if (src.Kind == 'd' && dst.Kind != 'd') return Outcome.Err("ENOTDIR");
            if (src.Kind != 'd' && dst.Kind == 'd') return Outcome.Err("EISDIR");
            if (dst.Kind == 'd' && dst.Children!.Count > 0) return Outcome.Err("ENOTEMPTY");
            Remove(to.Dir!, to.Name);
        }
        from.Dir!.Children!.Remove(from.Name);
        to.Dir!.Children![to.Name] = src;
        if (src.Kind == 'd') src.Parent = to.Dir;
        return Outcome.Ok;
    }

    /// <summary>Walks the directory part of <paramref name="path"/> (all components followed); an errno, or null with the directory.</summary>
    private string? ParentDir(string path, out Node? dir)
    {
        dir = null;
        string parent = PathsOf.Parent(path);
        if (parent.Length == 0)
        {
            dir = _root;
            return null;
        }
        var r = Resolve(parent, follow: true);
        if (r.Errno is not null) return r.Errno;
        if (r.Node is null) return "ENOENT";
        if (r.Node.Kind != 'd') return "ENOTDIR";
        dir = r.Node;
        return null;
    }

    /// <summary>When <paramref name="ancestor"/> is a strict ancestor of <paramref name="dir"/>: its child on the way there.</summary>
    private static Node? ChildToward(Node ancestor, Node dir)
    {
        for (var d = dir; d.Parent is not null; d = d.Parent)
        {
            if (d.Parent == ancestor) return d;
        }
        return null;
    }

    // ------------------------------------------------------------------ state

    public Task<Snapshot> SnapshotAsync(bool contents)
    {
        var s = new Snapshot();
        void Walk(Node dir, string prefix)
        {
            foreach (var (name, n) in dir.Children!)
            {
                string p = PathsOf.Join(prefix, name);
                s.Entries[p] = n.Kind switch
                {
                    'd' => new EntryState('d', 0),
                    'l' => new EntryState('l', 0, n.Link),
                    _ => new EntryState('f', n.Size, null, contents ? Snapshot.Digest(n.Data.AsSpan(0, (int)n.Size)) : null,
                        n.MtimeExplicit ? n.MtimeTicks : null, n.Mode),
                };
                if (n.Kind == 'd') Walk(n, p);
            }
        }
        Walk(_root, "");
        return Task.FromResult(s);
    }

    /// <summary>Modes set by chmod on files, by path (compared where the mount stores modes).</summary>
    public Dictionary<string, uint> ExplicitModes()
    {
        var modes = new Dictionary<string, uint>(StringComparer.Ordinal);
        void Walk(Node dir, string prefix)
        {
            foreach (var (name, n) in dir.Children!)
            {
                string p = PathsOf.Join(prefix, name);
                if (n.Kind == 'f' && n.Mode is { } m) modes[p] = m;
                if (n.Kind == 'd') Walk(n, p);
            }
        }
        Walk(_root, "");
        return modes;
    }

    public Task<char?> KindAsync(string path, bool follow)
    {
        var r = Resolve(path, follow);
        return Task.FromResult(r.Errno is null ? r.Node?.Kind : null);
    }

    /// <summary>True when the descriptor in <paramref name="slot"/> holds a file that no longer has a name.</summary>
    public bool IsUnlinked(int slot) => _fds.TryGetValue(slot, out var h) && !h.Node.Linked;

    public Task CloseAllAsync()
    {
        _fds.Clear();
        return Task.CompletedTask;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
