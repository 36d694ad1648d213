using CloudMount.Core.Vfs;
using CloudMount.Windows.Interop;
using Microsoft.Extensions.Logging;

namespace CloudMount.Windows;

/// <summary>Create, Open, Overwrite, Cleanup and Close: the life of a Windows handle.</summary>
internal sealed partial class WinFsAdapter
{
    private const uint WriteRights = WinConstants.FileWriteData | WinConstants.FileAppendData;

    /// <summary>
    /// Create: a new file (opened for writing, uploaded at Cleanup) or, with FILE_DIRECTORY_FILE, a directory
    /// (its marker written at once). The disposition FILE_CREATE fails with STATUS_OBJECT_NAME_COLLISION when the
    /// name exists; the others (WinFsp calls Create for them only when it found no such name) replace.
    /// </summary>
    public ValueTask<NtResult<(ulong Context, FspFileInfo Info)>> CreateAsync(string path, uint createOptions, uint grantedAccess, uint fileAttributes, ulong allocationSize) =>
        Run("Create " + path, async ct =>
        {
            var names = NodeTable.Split(path);
            if (names.Length == 0) throw new NtStatusException(NtStatus.ObjectNameCollision, "the root exists");
            var parent = await ResolveParentAsync(names, ct).ConfigureAwait(false);
            try
            {
                string name = names[^1];
                bool directory = (createOptions & WinConstants.FileDirectoryFile) != 0;
                bool exclusive = createOptions >> 24 == WinConstants.FileCreate;
                try
                {
                    if (directory)
                    {
                        var entry = await _fs.MkdirAsync(parent.Ino, name, ct).ConfigureAwait(false);
                        var dir = Nodes.Adopt(parent, name, entry, pin: true);
                        return (NewHandle(dir, false).Id, FileInfoMapper.ToFileInfo(entry.Attributes, ReadOnly));
                    }
                    var flags = OpenFlags.ReadWrite | (exclusive ? OpenFlags.Exclusive : 0);
                    var (created, open) = await _fs.CreateAsync(parent.Ino, name, flags, ct).ConfigureAwait(false);
                    var node = Nodes.Adopt(parent, name, created, pin: true);
                    var h = NewHandle(node, true);
                    Volatile.Write(ref h.WriteFh, open.Handle);
                    return (h.Id, FileInfoMapper.ToFileInfo(created.Attributes, ReadOnly));
                }
                catch (FileSystemException e) when (e.Error == FsError.InvalidArgument)
                {
                    throw new NtStatusException(NtStatus.ObjectNameInvalid, e.Message);
                }
            }
            finally
            {
                Nodes.Unpin(parent);
            }
        });

    /// <summary>Resolves the directory that holds the last of <paramref name="names"/>: a missing one is STATUS_OBJECT_PATH_NOT_FOUND.</summary>
    private async ValueTask<PathNode> ResolveParentAsync(string[] names, CancellationToken ct)
    {
        PathNode parent;
        try
        {
            parent = await Nodes.ResolveAsync(names[..^1], ct).ConfigureAwait(false);
        }
        catch (FileSystemException e) when (e.Error == FsError.NotFound)
        {
            throw new NtStatusException(NtStatus.ObjectPathNotFound, e.Message);
        }
        if (parent.Kind != NodeKind.Directory)
        {
            Nodes.Unpin(parent);
            throw new NtStatusException(NtStatus.ObjectPathNotFound, $"{parent.Name} is not a directory");
        }
        return parent;
    }

    /// <summary>
    /// Open: an existing file or directory. FILE_NON_DIRECTORY_FILE on a directory is STATUS_FILE_IS_A_DIRECTORY,
    /// FILE_DIRECTORY_FILE on a file STATUS_NOT_A_DIRECTORY. No request reaches the store beyond the lookup.
    /// </summary>
    public ValueTask<NtResult<(ulong Context, FspFileInfo Info)>> OpenAsync(string path, uint createOptions, uint grantedAccess) =>
        Run("Open " + path, async ct =>
        {
            var node = await Nodes.ResolveAsync(NodeTable.Split(path), ct).ConfigureAwait(false);
            try
            {
                bool directory = node.Kind == NodeKind.Directory;
                if (directory && (createOptions & WinConstants.FileNonDirectoryFile) != 0)
                {
                    throw new NtStatusException(NtStatus.FileIsADirectory, path);
                }
                if (!directory && (createOptions & WinConstants.FileDirectoryFile) != 0)
                {
                    throw new NtStatusException(NtStatus.NotADirectory, path);
                }
                var info = await InfoAsync(node, ct).ConfigureAwait(false);
                var h = NewHandle(node, Grants(grantedAccess, WriteRights));
                Nodes.Pin(node); // the handle's own pin; the resolution's is dropped below
                return (h.Id, info);
            }
            finally
            {
                Nodes.Unpin(node);
            }
        });

    /// <summary>Overwrite (FILE_OVERWRITE, FILE_OVERWRITE_IF or FILE_SUPERSEDE on an existing file): truncates it to empty, uploaded at Cleanup.</summary>
    public ValueTask<NtResult<FspFileInfo>> OverwriteAsync(ulong context, uint fileAttributes, bool replaceFileAttributes, ulong allocationSize) =>
        Run("Overwrite", async ct =>
        {
            var h = Handle(context);
            if (h.IsDirectory) throw new NtStatusException(NtStatus.FileIsADirectory, "overwrite of a directory");
            await h.Gate.WaitAsync(ct).ConfigureAwait(false);
            try
            {
                if (Volatile.Read(ref h.WriteFh) is not 0 and var fh)
                {
                    await _fs.SetAttrAsync(h.Node.Ino, new SetAttributes { Size = 0 }, fh, ct).ConfigureAwait(false);
                }
                else
                {
                    Volatile.Write(ref h.WriteFh, (await _fs.OpenAsync(h.Node.Ino, OpenFlags.ReadWrite | OpenFlags.Truncate, ct).ConfigureAwait(false)).Handle);
                }
                h.WrittenSinceFlush = true;
            }
            finally
            {
                h.Gate.Release();
            }
            return await InfoAsync(h.Node, ct).ConfigureAwait(false);
        });

    /// <summary>The handle's write handle, opened on first need.</summary>
    private async ValueTask<ulong> WriteHandleAsync(WinHandle h, CancellationToken ct)
    {
        if (Volatile.Read(ref h.WriteFh) is not 0 and var ready) return ready;
        await h.Gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (h.WriteFh == 0) Volatile.Write(ref h.WriteFh, (await _fs.OpenAsync(h.Node.Ino, OpenFlags.ReadWrite, ct).ConfigureAwait(false)).Handle);
            return h.WriteFh;
        }
        finally
        {
            h.Gate.Release();
        }
    }

    /// <summary>The handle to read through: the write handle if there is one (it sees this handle's writes), else a read handle opened on first need.</summary>
    private async ValueTask<ulong> ReadHandleAsync(WinHandle h, CancellationToken ct)
    {
        if (Volatile.Read(ref h.WriteFh) is not 0 and var w) return w;
        if (Volatile.Read(ref h.ReadFh) is not 0 and var r) return r;
        await h.Gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (h.WriteFh != 0) return h.WriteFh;
            if (h.ReadFh == 0) Volatile.Write(ref h.ReadFh, (await _fs.OpenAsync(h.Node.Ino, OpenFlags.Read, ct).ConfigureAwait(false)).Handle);
            return h.ReadFh;
        }
        finally
        {
            h.Gate.Release();
        }
    }

    /// <summary>
    /// Cleanup (the last CloseHandle of a file object). With FspCleanupDelete the file or directory is deleted
    /// before this returns (delete-on-close, DeleteFile, RemoveDirectory), so a name created right after is a new
    /// object. Otherwise a written file starts its upload and Cleanup returns: WinFsp cannot report a Cleanup
    /// failure (winfsp.h: "There is no way to report failure of this operation"), and an upload must not hold a
    /// dispatcher thread. A failed upload keeps the staged data (the Vfs's rule) and is logged. The returned task
    /// completes when that work is done; Close waits for it.
    /// </summary>
    public Task Cleanup(ulong context, string? path, uint flags)
    {
        if (!_handles.TryGetValue(context, out var h)) return Task.CompletedTask;
        if ((flags & FspCleanupFlags.Delete) != 0)
        {
            return Track(DeleteAsync(h), "Cleanup delete " + path);
        }
        if (Volatile.Read(ref h.WriteFh) is not 0 and var fh && h.WrittenSinceFlush)
        {
            h.WrittenSinceFlush = false;
            h.Tail = Track(FlushHandleAsync(fh), "Cleanup flush " + path);
            return h.Tail;
        }
        return Task.CompletedTask;
    }

    private async Task FlushHandleAsync(ulong fh) => await _fs.FlushAsync(fh, CancellationToken.None).ConfigureAwait(false);

    private async Task DeleteAsync(WinHandle h)
    {
        var node = h.Node;
        if (node.Parent is not { } parent) return; // the root is never deleted
        using var timeout = new CancellationTokenSource(_options.OperationTimeout);
        if (node.Kind == NodeKind.Directory)
        {
            await _fs.RmdirAsync(parent.Ino, node.Name, timeout.Token).ConfigureAwait(false);
        }
        else
        {
            await _fs.UnlinkAsync(parent.Ino, node.Name, timeout.Token).ConfigureAwait(false);
        }
        Nodes.Detach(parent, node.Name);
    }

    /// <summary>
    /// Close (the file object is gone): after Cleanup's work, flushes writes that arrived after Cleanup (the cache
    /// manager's lazy writer), releases the Vfs handles and unpins the node. The task completes when all is done.
    /// </summary>
    public Task Close(ulong context)
    {
        if (!_handles.TryRemove(context, out var h)) return Task.CompletedTask;
        return Track(CloseAsync(h), "Close " + h.Node.Name);
    }

    private async Task CloseAsync(WinHandle h)
    {
        try
        {
            await h.Tail.ConfigureAwait(false);
            if (h.WriteFh is not 0 and var w)
            {
                if (h.WrittenSinceFlush && !h.Node.Detached)
                {
                    try
                    {
                        await _fs.FlushAsync(w, CancellationToken.None).ConfigureAwait(false);
                    }
                    catch (Exception e)
                    {
                        Report("Close flush " + h.Node.Name, e);
                    }
                }
                await _fs.ReleaseAsync(w).ConfigureAwait(false);
            }
            if (h.ReadFh is not 0 and var r) await _fs.ReleaseAsync(r).ConfigureAwait(false);
            if (h.DirFh is not 0 and var d) _fs.ReleaseDir(d);
        }
        finally
        {
            Nodes.Unpin(h.Node);
            h.Gate.Dispose();
            _logger.LogTrace("closed handle {Id}", h.Id);
        }
    }
}
