using CloudMount.Core.Storage;

namespace CloudMount.Core.Vfs;

/// <summary>
/// A directory's own attributes live on its marker object <c>dir/</c> (as s3fs keeps them: mode, uid, gid, times
/// in its metadata). This part writes them: a metadata update of the marker, or a PUT that creates the marker for
/// a directory that was only implied by the keys under it. The root has no marker: its attributes last for the
/// session.
/// </summary>
internal sealed class DirectoryMarkers(VfsContext ctx)
{
    /// <summary>Content-Type of directory markers.</summary>
    public const string ContentType = "application/x-directory";

    private InodeTable Table => ctx.Table;

    /// <summary>Applies <paramref name="change"/> to the directory's marker metadata and stores it.</summary>
    /// <exception cref="FileSystemException">NotFound when the directory is gone; store errors.</exception>
    public async Task ChangeAsync(Inode dir, Action<Dictionary<string, string>> change, CancellationToken ct)
    {
        using var pin = Table.Pin(dir);
        using (await InodeGates.EnterAsync(dir, ct).ConfigureAwait(false))
        {
            string key;
            ObjectInfo? marker;
            lock (Table.Sync)
            {
                if (dir.Detached) throw VfsContext.NotFound(dir.Name);
                if (dir.Parent is null || Table.PrefixLocked(dir).Length == 0)
                {
                    var meta = new Dictionary<string, string>(StringComparer.Ordinal);
                    AttributeView.KnownLocked(dir).WriteTo(meta);
                    change(meta);
                    dir.Session = PosixMetadata.Parse(meta);
                    return;
                }
                key = Table.PrefixLocked(dir);
                marker = dir.Head;
            }
            marker ??= await ctx.Store.HeadAsync(key, ct).ConfigureAwait(false);
            ObjectInfo stored;
            for (int attempt = 0; ; attempt++)
            {
                var meta = marker?.Metadata is { } m ? new Dictionary<string, string>(m, StringComparer.Ordinal) : new Dictionary<string, string>(StringComparer.Ordinal);
                change(meta);
                try
                {
                    stored = await StoreAsync(key, marker, meta, ct).ConfigureAwait(false);
                    break;
                }
                catch (Exception e) when (attempt == 0 && e is PreconditionFailedException or ObjectNotFoundException)
                {
                    // Someone else changed or removed the marker meanwhile: start from what is there now.
                    marker = await ctx.Store.HeadAsync(key, ct).ConfigureAwait(false);
                }
            }
            Learned(dir, stored);
        }
        ctx.InvalidateKernelAttributes?.Invoke(dir.Ino);
    }

    private async Task<ObjectInfo> StoreAsync(string key, ObjectInfo? marker, Dictionary<string, string> meta, CancellationToken ct)
    {
        if (marker is null)
        {
            var options = new ObjectWriteOptions { ContentType = ContentType, Metadata = meta };
            var info = await ctx.Store.WriteAsync(key, ObjectContent.FromBytes(ReadOnlyMemory<byte>.Empty), options, ct).ConfigureAwait(false);
            return info with { ContentType = ContentType, Metadata = meta };
        }
        var updated = await ctx.Store.UpdateMetadataAsync(key, new ObjectWriteOptions { ContentType = marker.ContentType ?? ContentType, Metadata = meta }, marker.ETag, ct).ConfigureAwait(false);
        return updated.Metadata is null ? updated with { Metadata = meta, ContentType = marker.ContentType ?? ContentType } : updated;
    }

    /// <summary>Takes a marker's answer into the directory and what the mount remembers of its name.</summary>
    public void Learned(Inode dir, ObjectInfo marker)
    {
        lock (Table.Sync)
        {
            dir.Head = marker;
            dir.Revision++;
            if (dir.Parent is { } p && !dir.Detached) ctx.Views.RecordLocked(p, dir.Name, ObjectHeads.DirectoryEntry(marker));
        }
    }
}
