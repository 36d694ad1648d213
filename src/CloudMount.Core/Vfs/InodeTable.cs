namespace CloudMount.Core.Vfs;

/// <summary>
/// The inode table (mountpoint-s3's superblock): inode numbers, the tree of names the mount knows, and the
/// references that keep an inode alive. Numbers are never reused during a mount.
/// </summary>
/// <remarks>
/// <para>The one rule for dropping an inode is <see cref="IsUnreferenced"/>: no lookup reference from the kernel,
/// no open handle, no operation of ours pinning it, and no staged data. Every path that releases a reference
/// calls <see cref="DropIfUnreferencedLocked"/>, so there is no other place that decides.</para>
/// <para>Locking: <see cref="Sync"/> protects the map, <c>_nextIno</c>, and every mutable field of every
/// <see cref="Inode"/>. It is a leaf lock: nothing awaits or takes an inode gate while holding it.</para>
/// </remarks>
internal sealed class InodeTable
{
    /// <summary>The root's inode number (FUSE_ROOT_ID).</summary>
    public const ulong RootIno = 1;

    private readonly Dictionary<ulong, Inode> _inodes = [];   // protected by Sync
    private readonly string _rootPrefix;
    private ulong _nextIno = RootIno + 1;                        // protected by Sync

    /// <summary>Creates the table with its root directory.</summary>
    /// <param name="rootPrefix">Key prefix of the root: empty, or ending in '/'.</param>
    /// <param name="rootMtime">The root's modification time.</param>
    public InodeTable(string rootPrefix, DateTimeOffset rootMtime)
    {
        _rootPrefix = rootPrefix;
        Root = new Inode(RootIno, NodeKind.Directory, null, "") { Lookups = 1, Mtime = rootMtime, Children = [] };
        _inodes[RootIno] = Root;
    }

    /// <summary>The lock over the table and all inode fields (see the remarks).</summary>
    public Lock Sync { get; } = new();

    /// <summary>The root directory.</summary>
    public Inode Root { get; }

    /// <summary>Inodes currently held.</summary>
    public int Count
    {
        get { lock (Sync) return _inodes.Count; }
    }

    /// <summary>The inode numbered <paramref name="ino"/>.</summary>
    /// <exception cref="FileSystemException">NotFound for a number the table does not hold.</exception>
    public Inode Get(ulong ino)
    {
        lock (Sync)
        {
            return _inodes.TryGetValue(ino, out var n) ? n : throw new FileSystemException(FsError.NotFound, $"unknown inode {ino}");
        }
    }

    /// <summary>The directory numbered <paramref name="ino"/>.</summary>
    /// <exception cref="FileSystemException">NotFound, or NotDirectory when it is not a directory.</exception>
    public Inode GetDirectory(ulong ino)
    {
        var n = Get(ino);
        return n.IsDirectory ? n : throw new FileSystemException(FsError.NotDirectory, $"inode {ino} is not a directory");
    }

    /// <summary>Every inode that holds staged data (for unmount).</summary>
    public List<Inode> WithWriteBack()
    {
        lock (Sync) return _inodes.Values.Where(i => i.Write is not null).ToList();
    }

    // ------------------------------------------------------------------ keys

    /// <summary>The key prefix of a directory (ends in '/' unless it is an empty root prefix). Caller holds <see cref="Sync"/>.</summary>
    public string PrefixLocked(Inode dir)
    {
        if (dir.Parent is null) return _rootPrefix;
        var parts = new Stack<string>();
        for (var n = dir; n.Parent is not null; n = n.Parent) parts.Push(n.Name);
        return _rootPrefix + string.Join('/', parts) + "/";
    }

    /// <summary>The key prefix of a directory.</summary>
    public string Prefix(Inode dir)
    {
        lock (Sync) return PrefixLocked(dir);
    }

    /// <summary>The object key of a file. Caller holds <see cref="Sync"/>.</summary>
    public string KeyLocked(Inode file) => PrefixLocked(file.Parent!) + file.Name;

    /// <summary>The object key of a file.</summary>
    public string Key(Inode file)
    {
        lock (Sync) return KeyLocked(file);
    }

    // ------------------------------------------------------------------ references

    /// <summary>
    /// The one rule: an inode is dropped when nothing refers to it any more — no kernel lookup, no open handle,
    /// no pin, no staged data — and it is not the root.
    /// </summary>
    public static bool IsUnreferenced(Inode n) =>
        n.Ino != RootIno && n.Lookups <= 0 && n.OpenCount <= 0 && n.Pins <= 0 && n.Write is null;

    /// <summary>Drops <paramref name="n"/> from the table and from its parent if <see cref="IsUnreferenced"/>. Caller holds <see cref="Sync"/>.</summary>
    public void DropIfUnreferencedLocked(Inode n)
    {
        if (!IsUnreferenced(n)) return;
        if (!_inodes.Remove(n.Ino)) return;
        if (!n.Detached && n.Parent?.Children is { } siblings && siblings.TryGetValue(n.Name, out var c) && c == n)
        {
            siblings.Remove(n.Name);
        }
    }

    /// <summary>Drops the inode if unreferenced.</summary>
    public void DropIfUnreferenced(Inode n)
    {
        lock (Sync) DropIfUnreferencedLocked(n);
    }

    /// <summary>Takes one lookup reference (the kernel now holds the inode). Caller holds <see cref="Sync"/>.</summary>
    public static void TakeLookupLocked(Inode n) => n.Lookups++;

    /// <summary>Drops <paramref name="count"/> lookup references (FUSE forget).</summary>
    public void Forget(ulong ino, ulong count)
    {
        lock (Sync)
        {
            if (ino == RootIno || !_inodes.TryGetValue(ino, out var n)) return;
            n.Lookups -= (long)Math.Min(count, long.MaxValue);
            if (n.Lookups < 0) n.Lookups = 0;
            DropIfUnreferencedLocked(n);
        }
    }

    /// <summary>Holds <paramref name="n"/> in the table until the returned pin is disposed.</summary>
    public Pinned Pin(Inode n)
    {
        lock (Sync) n.Pins++;
        return new Pinned(this, n);
    }

    /// <summary>Takes ownership of a pin already counted on <paramref name="n"/> (as <see cref="NodeLookup.FindChildAsync"/> takes one).</summary>
    public Pinned Adopt(Inode n) => new(this, n);

    /// <summary>A pin on an inode; disposing it releases the pin (and drops the inode if that was the last reference).</summary>
    public readonly struct Pinned(InodeTable table, Inode inode) : IDisposable
    {
        /// <summary>The pinned inode (<c>null</c> for the default value: nothing pinned).</summary>
        public Inode? Inode => inode;

        /// <inheritdoc/>
        public void Dispose()
        {
            if (table is null) return;
            lock (table.Sync)
            {
                inode.Pins--;
                table.DropIfUnreferencedLocked(inode);
            }
        }
    }

    // ------------------------------------------------------------------ the tree

    /// <summary>
    /// Returns the child for <paramref name="name"/>, creating or updating it from <paramref name="entry"/>. A kind
    /// change (a file became a directory) gives a new inode. Local state (a file written here) is never
    /// overwritten by what the store said. Caller holds <see cref="Sync"/>; the new inode has no reference yet.
    /// </summary>
    public Inode UpsertChildLocked(Inode dir, string name, ChildEntry entry)
    {
        dir.Children ??= [];
        if (dir.Children.TryGetValue(name, out var child) && child.Kind == entry.Kind)
        {
            if (!child.HasLocalState) ApplyEntryLocked(child, entry);
            return child;
        }
        if (child is not null) DetachLocked(child);
        var created = new Inode(_nextIno++, entry.Kind, dir, name);
        if (entry.Kind == NodeKind.Directory) created.Children = [];
        ApplyEntryLocked(created, entry);
        dir.Children[name] = created;
        _inodes[created.Ino] = created;
        return created;
    }

    /// <summary>Creates a new inode for <paramref name="name"/>, replacing (detaching) whatever held the name. Caller holds <see cref="Sync"/>.</summary>
    public Inode AddNewChildLocked(Inode dir, string name, NodeKind kind, DateTimeOffset mtime)
    {
        if (dir.Children?.TryGetValue(name, out var old) == true) DetachLocked(old);
        return UpsertChildLocked(dir, name, new ChildEntry(kind, 0, null, mtime));
    }

    /// <summary>Takes what a listing, lookup or HEAD said into an inode without local state. Caller holds <see cref="Sync"/>.</summary>
    public static void ApplyEntryLocked(Inode n, ChildEntry entry)
    {
        if (entry.Head is null && n.Head is { } known && !entry.Matches(known)) n.Head = null;
        if (n.ETag != entry.ETag) n.SymlinkTarget = null;
        n.Size = entry.Size;
        n.ETag = entry.ETag;
        n.Mtime = entry.Mtime;
        if (n.EncodingETag != entry.ETag)
        {
            n.Encoding = null;
            n.DecodedSize = null;
        }
        if (entry.Head is not { } head) return;
        n.Head = head;
        n.Encoding = Codecs.ContentCodec.Parse(head.ContentEncoding);
        n.EncodingETag = head.ETag;
        if (entry.DecodedSize is { } decoded) n.DecodedSize = decoded;
    }

    /// <summary>Unhooks an inode from its name; it lives on while it is referenced. Caller holds <see cref="Sync"/>.</summary>
    public void DetachLocked(Inode n)
    {
        if (n.Parent?.Children is { } siblings && siblings.TryGetValue(n.Name, out var current) && current == n)
        {
            siblings.Remove(n.Name);
        }
        n.Detached = true;
        n.Revision++;
        DropIfUnreferencedLocked(n);
    }

    /// <summary>Moves <paramref name="n"/> to <paramref name="newName"/> in <paramref name="newParent"/>, detaching what held that name. Caller holds <see cref="Sync"/>.</summary>
    public void MoveLocked(Inode n, Inode newParent, string newName)
    {
        if (n.Parent?.Children is { } siblings && siblings.TryGetValue(n.Name, out var c) && c == n)
        {
            siblings.Remove(n.Name);
        }
        newParent.Children ??= [];
        if (newParent.Children.TryGetValue(newName, out var replaced) && replaced != n) DetachLocked(replaced);
        n.Parent = newParent;
        n.Name = newName;
        n.Revision++;
        newParent.Children[newName] = n;
    }

    /// <summary>The child the mount knows by <paramref name="name"/>, or <c>null</c>. Caller holds <see cref="Sync"/>.</summary>
    public static Inode? ChildLocked(Inode dir, string name) =>
        dir.Children is { } c && c.TryGetValue(name, out var n) ? n : null;

    /// <summary>True when <paramref name="ancestor"/> is <paramref name="n"/> or above it. Caller holds <see cref="Sync"/>.</summary>
    public static bool IsWithinLocked(Inode n, Inode ancestor)
    {
        for (var d = n; d is not null; d = d.Parent)
        {
            if (d == ancestor) return true;
        }
        return false;
    }
}
