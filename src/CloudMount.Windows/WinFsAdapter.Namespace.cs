using CloudMount.Core.Vfs;

namespace CloudMount.Windows;

/// <summary>CanDelete, SetDelete and Rename.</summary>
internal sealed partial class WinFsAdapter
{
    /// <summary>
    /// CanDelete: whether DeleteFile / RemoveDirectory may go ahead (the deletion itself is Cleanup's): not on a
    /// read-only mount, not the root, not a directory with entries (STATUS_DIRECTORY_NOT_EMPTY, one LIST).
    /// </summary>
    public ValueTask<NtResult<bool>> CanDeleteAsync(ulong context, string? path) =>
        Run("CanDelete " + path, async ct =>
        {
            var h = Handle(context);
            await CheckDeletableAsync(h, ct).ConfigureAwait(false);
            return true;
        });

    /// <summary>SetDelete: as <see cref="CanDeleteAsync"/> when <paramref name="delete"/> is set; clearing always succeeds.</summary>
    public ValueTask<NtResult<bool>> SetDeleteAsync(ulong context, string? path, bool delete) =>
        Run("SetDelete " + path, async ct =>
        {
            var h = Handle(context);
            if (delete) await CheckDeletableAsync(h, ct).ConfigureAwait(false);
            h.DeletePending = delete;
            return true;
        });

    private async ValueTask CheckDeletableAsync(WinHandle h, CancellationToken ct)
    {
        if (ReadOnly) throw new NtStatusException(NtStatus.MediaWriteProtected, "read-only mount");
        if (h.Node.Parent is null) throw new NtStatusException(NtStatus.CannotDelete, "the root cannot be deleted");
        if (!h.IsDirectory) return;
        ulong dir = _fs.OpenDir(h.Node.Ino);
        bool empty = true;
        try
        {
            await _fs.ReadDirAsync(h.Node.Ino, dir, 0, false, (in DirectoryEntry e) =>
            {
                if (e.Name is "." or "..") return true;
                empty = false;
                return false;
            }, ct).ConfigureAwait(false);
        }
        finally
        {
            _fs.ReleaseDir(dir);
        }
        if (!empty) throw new NtStatusException(NtStatus.DirectoryNotEmpty, $"{h.Node.Name} is not empty");
    }

    /// <summary>
    /// Rename (MoveFileEx, and the SetInformation the FSD turns it into): to <paramref name="newPath"/>; an
    /// existing target is replaced only with <paramref name="replaceIfExists"/> (else
    /// STATUS_OBJECT_NAME_COLLISION), and never when it is a directory (STATUS_ACCESS_DENIED, as NTFS answers).
    /// A file is a server-side copy and a delete; a directory moves every key under it (the Vfs's rules).
    /// </summary>
    public ValueTask<NtResult<bool>> RenameAsync(ulong context, string path, string newPath, bool replaceIfExists) =>
        Run($"Rename {path} {newPath}", async ct =>
        {
            var h = Handle(context);
            var node = h.Node;
            if (node.Parent is not { } fromDir) throw new NtStatusException(NtStatus.AccessDenied, "the root cannot be renamed");
            var names = NodeTable.Split(newPath);
            if (names.Length == 0) throw new NtStatusException(NtStatus.AccessDenied, "cannot rename onto the root");
            var toDir = await ResolveParentAsync(names, ct).ConfigureAwait(false);
            try
            {
                string newName = names[^1];
                if (replaceIfExists)
                {
                    await RefuseDirectoryTargetAsync(toDir, newName, node, ct).ConfigureAwait(false);
                }
                var flags = replaceIfExists ? RenameFlags.None : RenameFlags.NoReplace;
                try
                {
                    await _fs.RenameAsync(fromDir.Ino, node.Name, toDir.Ino, newName, flags, ct).ConfigureAwait(false);
                }
                catch (FileSystemException e) when (e.Error == FsError.InvalidArgument)
                {
                    throw new NtStatusException(NtStatus.ObjectNameInvalid, e.Message);
                }
                Nodes.Move(node, toDir, newName);
                return true;
            }
            finally
            {
                Nodes.Unpin(toDir);
            }
        });

    /// <summary>Windows never lets a rename replace a directory.</summary>
    private async ValueTask RefuseDirectoryTargetAsync(PathNode toDir, string newName, PathNode source, CancellationToken ct)
    {
        PathNode target;
        try
        {
            target = await Nodes.ChildAsync(toDir, newName, ct).ConfigureAwait(false);
        }
        catch (FileSystemException e) when (e.Error == FsError.NotFound)
        {
            return;
        }
        bool directory = target.Kind == NodeKind.Directory && target != source;
        Nodes.Unpin(target);
        if (directory) throw new NtStatusException(NtStatus.AccessDenied, $"{newName} is a directory");
    }
}
