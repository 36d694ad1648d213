using CloudMount.Core.Storage;
using Microsoft.Extensions.Logging;

namespace CloudMount.Core.Vfs;

/// <summary>
/// rename(2). A file is a server-side copy to the new key and a delete of the old one (a file not yet uploaded
/// only changes its name, and is uploaded under the new one). A directory: every key under it is copied
/// (server-side, 8 at a time) and only when all copies exist are the old keys deleted, so an interrupted rename
/// leaves every object under the old name or the new one, never neither. Both hold the gates of the two parent
/// directories, of the source and of what it replaces — and for a directory, of everything under it the mount
/// knows — so no upload or create inside lands under the old name after the move.
/// </summary>
internal sealed class RenameOps(VfsContext ctx, NamespaceOps names, WriteBack writeBack, Uploads uploads)
{
    private const int ParallelCopies = 8;

    private InodeTable Table => ctx.Table;
    private DirectoryViews Views => ctx.Views;

    /// <exception cref="FileSystemException">ReadOnly, NotFound, IsDirectory, NotDirectory, NotEmpty, Exists (NoReplace), InvalidArgument (Exchange, or a directory into itself), Io (a copy or delete failed).</exception>
    public async ValueTask RenameAsync(ulong parent, string name, ulong newParent, string newName, RenameFlags flags, CancellationToken ct)
    {
        ctx.ThrowIfReadOnly();
        KeyNames.Validate(newName);
        if ((flags & RenameFlags.Exchange) != 0) throw new FileSystemException(FsError.InvalidArgument, "RENAME_EXCHANGE is not supported");
        var fromDir = Table.GetDirectory(parent);
        var toDir = Table.GetDirectory(newParent);
        names.CheckKeyLength(toDir, newName + "/");
        while (true)
        {
            using var sourcePin = await names.PinChildAsync(fromDir, name, ct).ConfigureAwait(false);
            var source = sourcePin.Inode ?? throw VfsContext.NotFound(name);
            using var targetPin = await names.PinChildAsync(toDir, newName, ct).ConfigureAwait(false);
            var target = targetPin.Inode;
            if (target == source) return;
            if (target is not null)
            {
                if ((flags & RenameFlags.NoReplace) != 0) throw new FileSystemException(FsError.Exists, $"{newName} exists");
                if (source.IsDirectory && !target.IsDirectory) throw new FileSystemException(FsError.NotDirectory, $"{newName} is not a directory");
                if (!source.IsDirectory && target.IsDirectory) throw new FileSystemException(FsError.IsDirectory, $"{newName} is a directory");
            }
            var gated = new List<Inode?> { fromDir, toDir, source, target };
            lock (Table.Sync)
            {
                if (source.IsDirectory)
                {
                    if (InodeTable.IsWithinLocked(toDir, source)) throw new FileSystemException(FsError.InvalidArgument, "cannot move a directory into itself");
                    CollectDescendantsLocked(source, gated);
                }
            }
            using (await InodeGates.EnterAsync(ct, [.. gated]).ConfigureAwait(false))
            {
                lock (Table.Sync)
                {
                    if (InodeTable.ChildLocked(fromDir, name) != source || (target is not null && InodeTable.ChildLocked(toDir, newName) != target)
                        || (target is null && InodeTable.ChildLocked(toDir, newName) is not null))
                    {
                        continue; // the names changed while this waited: look again
                    }
                    NamespaceOps.ThrowIfGone(toDir);
                }
                if (source.IsDirectory) await RenameDirectoryLockedAsync(fromDir, name, source, toDir, newName, target, ct).ConfigureAwait(false);
                else await RenameFileLockedAsync(fromDir, name, source, toDir, newName, target, ct).ConfigureAwait(false);
                return;
            }
        }
    }

    private static void CollectDescendantsLocked(Inode dir, List<Inode?> into)
    {
        if (dir.Children is null) return;
        foreach (var c in dir.Children.Values)
        {
            into.Add(c);
            if (c.IsDirectory) CollectDescendantsLocked(c, into);
        }
    }

    private async Task RenameFileLockedAsync(Inode fromDir, string name, Inode source, Inode toDir, string newName, Inode? target, CancellationToken ct)
    {
        bool localOnly, dirty;
        string oldKey, newKey;
        lock (Table.Sync)
        {
            localOnly = source.LocalOnly;
            dirty = source.Write is { Dirty: true };
            oldKey = Table.KeyLocked(source);
            newKey = Table.PrefixLocked(toDir) + newName;
        }
        if (!localOnly)
        {
            if (!dirty)
            {
                var copied = await ctx.Store.CopyAsync(oldKey, newKey, ct).ConfigureAwait(false);
                lock (Table.Sync)
                {
                    source.ETag = copied.ETag;
                    source.Mtime = copied.LastModified;
                    source.Size = copied.Size;
                    source.Head = copied.Metadata is not null || copied.ContentType is not null ? copied : null;
                    if (source.Encoding is not null) source.EncodingETag = copied.ETag;
                    if (source.Write is { } clean) clean.RemoteETag = copied.ETag;
                }
            }
            await ctx.Store.DeleteAsync(oldKey, ct).ConfigureAwait(false);
            if (dirty)
            {
                lock (Table.Sync) source.LocalOnly = true; // its bytes now live only in staging, until it is uploaded
            }
        }
        bool targetStored;
        lock (Table.Sync) targetStored = target is { LocalOnly: false, IsDirectory: false };
        if (targetStored && (localOnly || dirty))
        {
            // The source's bytes are only in staging until its upload: the replaced object must not stay under the
            // new name meanwhile (an unlink before that upload would otherwise bring it back).
            await ctx.Store.DeleteAsync(newKey, ct).ConfigureAwait(false);
        }
        if (target?.Write is { } replaced)
        {
            // The replaced file's staged data is nobody's to recover now.
            StagingIo.TryRun(replaced.File.DeleteRecord);
            replaced.RecordState = null;
        }
        lock (Table.Sync)
        {
            Views.RecordLocked(fromDir, name, null);
            Table.MoveLocked(source, toDir, newName);
            Views.ClearMissingLocked(newKey);
            Views.RecordLocked(toDir, newName, AttributeView.LocalEntryLocked(ctx, source));
            AttributeView.EntriesChangedLocked(ctx, fromDir);
            AttributeView.EntriesChangedLocked(ctx, toDir);
            AttributeView.AttributesChangedLocked(ctx, source);
            if (target is not null) AttributeView.AttributesChangedLocked(ctx, target);
        }
        if (target?.Write is { } gone) await writeBack.TeardownIfIdleLockedAsync(target, gone).ConfigureAwait(false);
        if (source.Write is { } w)
        {
            if (w.RecordState is { } state) StagingIo.TryRun(() => WriteBack.WriteRecordLocked(ctx, source, w, state, "renamed"));
            bool idle;
            lock (Table.Sync) idle = source.OpenCount == 0;
            if (idle && w.Dirty)
            {
                // Nobody will close it again: store it under its new name now (a failure keeps it for recovery).
                try
                {
                    await uploads.UploadLockedAsync(source, w, CancellationToken.None).ConfigureAwait(false);
                    await writeBack.TeardownIfIdleLockedAsync(source, w).ConfigureAwait(false);
                }
                catch (FileSystemException)
                {
                    // Logged by the upload.
                }
            }
        }
        ctx.Logger.LogDebug("renamed {Old} to {New}", oldKey, newKey);
    }

    private async Task RenameDirectoryLockedAsync(Inode fromDir, string name, Inode source, Inode toDir, string newName, Inode? target, CancellationToken ct)
    {
        string oldPrefix, newPrefix;
        lock (Table.Sync)
        {
            oldPrefix = Table.PrefixLocked(source);
            newPrefix = Table.PrefixLocked(toDir) + newName + "/";
        }
        if (target is not null)
        {
            // POSIX: a directory may replace an empty one.
            var inside = await ctx.Store.ListAsync(new ListRequest(newPrefix, null, null, 2), ct).ConfigureAwait(false);
            bool hasLocal;
            lock (Table.Sync) hasLocal = target.Children?.Values.Any(c => c.HasLocalState && !c.Detached) == true;
            if (hasLocal || inside.Objects.Any(o => o.Key != newPrefix) || inside.CommonPrefixes.Count > 0)
            {
                throw new FileSystemException(FsError.NotEmpty, $"{newName} is not empty");
            }
        }
        var keys = new List<string>();
        string? token = null;
        do
        {
            var page = await ctx.Store.ListAsync(new ListRequest(oldPrefix, null, token), ct).ConfigureAwait(false);
            keys.AddRange(page.Objects.Select(o => o.Key));
            token = page.NextPageToken;
        }
        while (token is not null);
        if (!ctx.Store.Capabilities.MarkerInOwnListing && !keys.Contains(oldPrefix)
            && await ctx.Store.HeadAsync(oldPrefix, ct).ConfigureAwait(false) is not null)
        {
            // The directory's own marker lives outside its prefix (Azure's hdi_isfolder blob): move it too.
            keys.Add(oldPrefix);
        }
        await CopyAllAsync(name, keys, oldPrefix, newPrefix, ct).ConfigureAwait(false);
        try
        {
            // Objects first, then markers deepest first: where a marker is a real folder (file://), it can only go
            // once it is empty.
            await Parallel.ForEachAsync(keys.Where(k => !k.EndsWith('/')), new ParallelOptions { MaxDegreeOfParallelism = ParallelCopies, CancellationToken = ct },
                async (key, token2) => await ctx.Store.DeleteAsync(key, token2).ConfigureAwait(false)).ConfigureAwait(false);
            var markers = keys.Where(k => k.EndsWith('/')).ToHashSet(StringComparer.Ordinal);
            if (ctx.Store.Capabilities.RealFolders)
            {
                // Folders that hold keys are not listed as markers, yet are there: each goes once emptied.
                markers.Add(oldPrefix);
                foreach (var k in keys)
                {
                    for (int i = k.IndexOf('/', oldPrefix.Length); i >= 0 && i < k.Length - 1; i = k.IndexOf('/', i + 1)) markers.Add(k[..(i + 1)]);
                }
            }
            foreach (var marker in markers.OrderByDescending(k => k.Length))
            {
                await ctx.Store.DeleteAsync(marker, ct).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            ctx.Logger.LogWarning("renamed {Old} to {New}, but some old keys remain (they are also under the new name): {Error}", oldPrefix, newPrefix, e.Message);
            throw new FileSystemException(FsError.Io, $"renaming {name}: {e.Message}", e);
        }
        var records = new List<(Inode, FileWriteBack)>();
        lock (Table.Sync)
        {
            Views.InvalidatePrefixLocked(oldPrefix);
            Views.InvalidatePrefixLocked(newPrefix);
            Views.RecordLocked(fromDir, name, null);
            Table.MoveLocked(source, toDir, newName);
            Views.RecordLocked(toDir, newName, source.Head is { } marker ? ObjectHeads.DirectoryEntry(marker) : new ChildEntry(NodeKind.Directory, 0, null, ctx.MountTime));
            Views.ClearMissingLocked(newPrefix[..^1]);
            bool replaced = target is not null;
            AttributeView.EntriesChangedLocked(ctx, fromDir, subdirDelta: fromDir == toDir ? (replaced ? -1 : 0) : -1);
            if (fromDir != toDir) AttributeView.EntriesChangedLocked(ctx, toDir, subdirDelta: replaced ? 0 : +1);
            AttributeView.AttributesChangedLocked(ctx, source);
            var inside = new List<Inode?>();
            CollectDescendantsLocked(source, inside);
            foreach (var n in inside)
            {
                if (n?.Write is { RecordState: not null } w) records.Add((n, w));
            }
        }
        // Staged files under the directory now belong to new keys: their records say so.
        foreach (var (n, w) in records) StagingIo.TryRun(() => WriteBack.WriteRecordLocked(ctx, n, w, w.RecordState!, "renamed with its directory"));
        ctx.Logger.LogDebug("renamed directory {Old} to {New}: {Count} keys", oldPrefix, newPrefix, keys.Count);
    }

    /// <summary>Copies every key to the new prefix; on failure takes back the partial copies (every object is still under the old name).</summary>
    private async Task CopyAllAsync(string name, List<string> keys, string oldPrefix, string newPrefix, CancellationToken ct)
    {
        var copied = new System.Collections.Concurrent.ConcurrentBag<string>();
        try
        {
            await Parallel.ForEachAsync(keys, new ParallelOptions { MaxDegreeOfParallelism = ParallelCopies, CancellationToken = ct }, async (key, token) =>
            {
                string to = newPrefix + key[oldPrefix.Length..];
                await ctx.Store.CopyAsync(key, to, token).ConfigureAwait(false);
                copied.Add(to);
            }).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            foreach (var to in copied)
            {
                try
                {
                    await ctx.Store.DeleteAsync(to, CancellationToken.None).ConfigureAwait(false);
                }
                catch (Exception)
                {
                    // A duplicate under the new name is harmless.
                }
            }
            if (e is OperationCanceledException) throw;
            throw new FileSystemException(FsError.Io, $"renaming {name}: {e.Message}", e);
        }
    }
}
