using CloudMount.Core.Vfs;

namespace CloudMount.Windows;

/// <summary>
/// One node of the path tree: a name under its parent, the Vfs inode it resolved to, and who uses it.
/// All fields are guarded by the owning <see cref="NodeTable"/>'s lock.
/// </summary>
internal sealed class PathNode(ulong ino, NodeKind kind, PathNode? parent, string name)
{
    public ulong Ino { get; } = ino;
    public NodeKind Kind { get; } = kind;
    public PathNode? Parent { get; set; } = parent;
    /// <summary>The store (not the Windows) name.</summary>
    public string Name { get; set; } = name;
    public Dictionary<string, PathNode>? Children;
    /// <summary>Open handles and resolutions in progress that use this node.</summary>
    public int Pins;
    /// <summary>No longer reachable by its name (deleted, replaced, or seen changed); forgotten once unused.</summary>
    public bool Detached;
    /// <summary>Until when the name may be trusted without a new lookup (Environment.TickCount64, ms).</summary>
    public long ValidUntil;
    /// <summary>Position in the idle list while unused and childless.</summary>
    public LinkedListNode<PathNode>? Idle;
    /// <summary>Out of the tree and its lookup reference given back.</summary>
    public bool Forgotten;
}

/// <summary>
/// Resolves Windows paths to Vfs inodes and is the one owner of the lookup references that takes. WinFsp is
/// path-based, the Vfs inode-based (as the kernel's dcache is on Linux): every node of this tree holds exactly
/// one lookup reference on its inode, taken by the <see cref="CloudFileSystem.LookupAsync"/> (or create/mkdir)
/// that made it, and given back with <see cref="CloudFileSystem.Forget"/> when the node leaves the tree. A node
/// leaves only when nothing pins it and it has no children, so every directory above an open file keeps its
/// inode (and the Vfs never sees two inodes for one file). Unused nodes stay cached, up to
/// <see cref="IdleLimit"/>, so file ids stay stable across opens; a cached name is trusted for the entry
/// timeout the Vfs gave, then looked up again.
/// </summary>
/// <remarks>Locking: <c>_lock</c> guards the whole tree; it is never held across an await, and Forget is called
/// after it is released.</remarks>
internal sealed class NodeTable
{
    /// <summary>Unused nodes kept cached before the oldest are forgotten.</summary>
    public const int IdleLimit = 4096;

    private readonly CloudFileSystem _fs;
    private readonly Lock _lock = new();
    private readonly LinkedList<PathNode> _idle = new();
    private readonly PathNode _root = new(CloudFileSystem.RootIno, NodeKind.Directory, null, "") { Pins = 1, ValidUntil = long.MaxValue };

    public NodeTable(CloudFileSystem fs) => _fs = fs;

    /// <summary>The root directory (never forgotten).</summary>
    public PathNode Root => _root;

    /// <summary>Nodes in the tree other than the root (for tests: they must come back down).</summary>
    public int Count
    {
        get { lock (_lock) return CountLocked(_root) - 1; }
    }

    /// <summary>Forgets every unused cached node (at unmount, and in tests: the Vfs's lookup counts must come back to the root's).</summary>
    public void ForgetIdle()
    {
        List<ulong> forget = [];
        lock (_lock)
        {
            while (_idle.First is { } oldest)
            {
                var node = oldest.Value;
                _idle.RemoveFirst();
                node.Idle = null;
                node.Detached = true;
                IdleIfUnusedLocked(node, forget);
            }
        }
        ForgetAll(forget);
    }

    /// <summary>Splits a Windows path (<c>\dir\file</c>) into store names.</summary>
    /// <exception cref="NtStatusException">STATUS_OBJECT_NAME_INVALID for an empty component.</exception>
    public static string[] Split(string windowsPath)
    {
        var parts = windowsPath.Split('\\', StringSplitOptions.RemoveEmptyEntries);
        for (int i = 0; i < parts.Length; i++) parts[i] = WindowsNames.ToStore(parts[i]);
        return parts;
    }

    /// <summary>
    /// Resolves <paramref name="names"/> from the root and pins the node it ends at; unpin it with
    /// <see cref="Unpin"/>. A missing last name is STATUS_OBJECT_NAME_NOT_FOUND, a missing or non-directory
    /// parent STATUS_OBJECT_PATH_NOT_FOUND.
    /// </summary>
    public async ValueTask<PathNode> ResolveAsync(string[] names, CancellationToken ct)
    {
        PathNode current;
        lock (_lock)
        {
            current = _root;
            PinLocked(current);
        }
        try
        {
            for (int i = 0; i < names.Length; i++)
            {
                if (current.Kind != NodeKind.Directory)
                {
                    throw new NtStatusException(NtStatus.ObjectPathNotFound, $"{current.Name} is not a directory");
                }
                PathNode next;
                try
                {
                    next = await ChildAsync(current, names[i], ct).ConfigureAwait(false);
                }
                catch (FileSystemException e) when (e.Error == FsError.NotFound && i < names.Length - 1)
                {
                    throw new NtStatusException(NtStatus.ObjectPathNotFound, e.Message);
                }
                Unpin(current);
                current = next;
            }
            return current;
        }
        catch
        {
            Unpin(current);
            throw;
        }
    }

    /// <summary>The child <paramref name="name"/> (a store name) of the directory <paramref name="dir"/>, which the caller keeps pinned; the child comes pinned.</summary>
    /// <exception cref="FileSystemException">NotFound.</exception>
    public async ValueTask<PathNode> ChildAsync(PathNode dir, string name, CancellationToken ct)
    {
        long now = Environment.TickCount64;
        lock (_lock)
        {
            if (dir.Children?.TryGetValue(name, out var cached) == true && !cached.Detached && cached.ValidUntil > now)
            {
                PinLocked(cached);
                return cached;
            }
        }
        EntryReply entry;
        try
        {
            entry = await _fs.LookupAsync(dir.Ino, name, ct).ConfigureAwait(false);
        }
        catch (FileSystemException e) when (e.Error == FsError.NotFound)
        {
            Detach(dir, name);
            throw;
        }
        return Adopt(dir, name, entry, pin: true);
    }

    /// <summary>
    /// Takes the lookup reference of <paramref name="entry"/> (from lookup, create or mkdir) into the tree as
    /// child <paramref name="name"/> of <paramref name="dir"/>: a node for the same inode keeps its one reference
    /// (the new one is given back), a node for another inode is detached and replaced.
    /// </summary>
    public PathNode Adopt(PathNode dir, string name, in EntryReply entry, bool pin)
    {
        var a = entry.Attributes;
        long validUntil = Environment.TickCount64 + (long)(entry.EntryTimeout * 1000);
        List<ulong> forget = [];
        PathNode node;
        lock (_lock)
        {
            dir.Children ??= new(StringComparer.Ordinal);
            if (dir.Children.TryGetValue(name, out var existing) && existing.Ino == a.Ino && !existing.Detached)
            {
                forget.Add(a.Ino); // the node already holds one reference for this inode
                node = existing;
            }
            else
            {
                if (existing is not null) DetachLocked(existing, forget);
                node = new PathNode(a.Ino, a.Kind, dir, name);
                dir.Children[name] = node;
                UnidleLocked(dir);
            }
            node.ValidUntil = validUntil;
            if (pin) PinLocked(node);
            else IdleIfUnusedLocked(node, forget);
        }
        ForgetAll(forget);
        return node;
    }

    /// <summary>Drops a pin taken by <see cref="ResolveAsync"/> or <see cref="Adopt"/>.</summary>
    public void Unpin(PathNode node)
    {
        List<ulong> forget = [];
        lock (_lock)
        {
            node.Pins--;
            IdleIfUnusedLocked(node, forget);
        }
        ForgetAll(forget);
    }

    /// <summary>Pins a node already pinned by the caller once more (a handle keeping it).</summary>
    public void Pin(PathNode node)
    {
        lock (_lock) PinLocked(node);
    }

    /// <summary>Removes the child <paramref name="name"/> of <paramref name="dir"/> from the tree (it was deleted or is gone).</summary>
    public void Detach(PathNode dir, string name)
    {
        List<ulong> forget = [];
        lock (_lock)
        {
            if (dir.Children?.TryGetValue(name, out var child) == true) DetachLocked(child, forget);
        }
        ForgetAll(forget);
    }

    /// <summary>Moves <paramref name="node"/> to <paramref name="newName"/> under <paramref name="newDir"/>, as the Vfs moved its inode; a node already there is detached.</summary>
    public void Move(PathNode node, PathNode newDir, string newName)
    {
        List<ulong> forget = [];
        lock (_lock)
        {
            if (node.Parent?.Children is { } old && old.TryGetValue(node.Name, out var me) && me == node)
            {
                old.Remove(node.Name);
                IdleIfUnusedLocked(node.Parent, forget);
            }
            newDir.Children ??= new(StringComparer.Ordinal);
            if (newDir.Children.TryGetValue(newName, out var target) && target != node) DetachLocked(target, forget);
            node.Parent = newDir;
            node.Name = newName;
            node.Detached = false;
            newDir.Children[newName] = node;
            UnidleLocked(newDir);
        }
        ForgetAll(forget);
    }

    private void PinLocked(PathNode node)
    {
        node.Pins++;
        UnidleLocked(node);
    }

    private void UnidleLocked(PathNode node)
    {
        if (node.Idle is { } link)
        {
            _idle.Remove(link);
            node.Idle = null;
        }
    }

    private void DetachLocked(PathNode node, List<ulong> forget)
    {
        if (node.Parent?.Children is { } siblings && siblings.TryGetValue(node.Name, out var me) && me == node)
        {
            siblings.Remove(node.Name);
            IdleIfUnusedLocked(node.Parent, forget);
        }
        node.Detached = true;
        SweepLocked(node, forget);
        IdleIfUnusedLocked(node, forget);
    }

    /// <summary>Forgets the unused descendants of a node that left the tree (they cannot be reached any more).</summary>
    private void SweepLocked(PathNode node, List<ulong> forget)
    {
        if (node.Children is not { Count: > 0 } children) return;
        foreach (var child in children.Values.ToList())
        {
            SweepLocked(child, forget);
            if (child.Pins <= 0 && (child.Children is null || child.Children.Count == 0))
            {
                UnidleLocked(child);
                children.Remove(child.Name);
                child.Detached = true;
                child.Forgotten = true;
                forget.Add(child.Ino);
            }
        }
    }

    /// <summary>True when the node and every directory above it are still in the tree.</summary>
    private static bool IsReachable(PathNode node)
    {
        for (var n = node; n is not null; n = n.Parent)
        {
            if (n.Detached) return false;
        }
        return true;
    }

    /// <summary>
    /// An unused, childless node becomes idle: kept while it is still reachable and the idle list has room,
    /// forgotten otherwise (and then its parent may become idle in turn). Oldest idle nodes go first.
    /// </summary>
    private void IdleIfUnusedLocked(PathNode? node, List<ulong> forget)
    {
        while (node is not null && node != _root && node.Pins <= 0 && (node.Children is null || node.Children.Count == 0) && node.Idle is null && !node.Forgotten)
        {
            if (IsReachable(node))
            {
                node.Idle = _idle.AddLast(node);
                if (_idle.Count <= IdleLimit) return;
                node = _idle.First!.Value;
                _idle.RemoveFirst();
                node.Idle = null;
            }
            var parent = node.Parent;
            if (parent?.Children is { } siblings && siblings.TryGetValue(node.Name, out var me) && me == node)
            {
                siblings.Remove(node.Name);
            }
            node.Detached = true;
            node.Forgotten = true;
            forget.Add(node.Ino);
            node = parent;
        }
    }

    private void ForgetAll(List<ulong> inos)
    {
        foreach (ulong ino in inos) _fs.Forget(ino, 1);
    }

    private static int CountLocked(PathNode n) => 1 + (n.Children?.Values.Sum(CountLocked) ?? 0);
}
