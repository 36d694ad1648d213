using CloudMount.Core.Storage;

namespace CloudMount.Core.Vfs;

/// <summary>
/// HEAD requests and what they tell beyond a listing: the kind of an object (a symlink by its <c>mode</c>
/// metadata), its metadata, and the decoded size of an encoded object where it can be found cheaply.
/// </summary>
internal static class ObjectHeads
{
    /// <summary>HEADs made at once while filling a listing's attributes (<see cref="VfsOptions.ExactAttributes"/>).</summary>
    private const int ParallelHeads = 16;

    /// <summary>The entry a HEAD answer describes: a symlink or special file when its <c>mode</c> says so, else a file.</summary>
    public static ChildEntry EntryFromHead(ObjectInfo head, long? decodedSize) =>
        new(KindOf(head), head.Size, head.ETag, head.LastModified, head, decodedSize);

    /// <summary>
    /// The entry a listed object gives: a plain file, or, where the listing carries the object's metadata (GCS,
    /// Azure, mem://) and it is not encoded, the entry its metadata describes (a symlink stays a symlink, modes and
    /// times show), as a HEAD would give.
    /// </summary>
    public static ChildEntry ListedEntry(ObjectInfo o) =>
        o.Metadata is not null && string.IsNullOrEmpty(o.ContentEncoding)
            ? EntryFromHead(o, null)
            : new ChildEntry(NodeKind.File, o.Size, o.ETag, o.LastModified);

    /// <summary>The kind of a (non-marker) object: what its <c>mode</c> metadata says, a file otherwise.</summary>
    public static NodeKind KindOf(ObjectInfo head) =>
        PosixMetadata.Parse(head.Metadata).Kind is { } k && k != NodeKind.Directory ? k : NodeKind.File;

    /// <summary>A directory's entry with what its marker object says (its mode, owner and times).</summary>
    public static ChildEntry DirectoryEntry(ObjectInfo marker) => new(NodeKind.Directory, 0, null, marker.LastModified, marker);

    /// <summary>The decoded size of an encoded object, when decoding is on and it can be found cheaply; else <c>null</c>.</summary>
    public static async Task<long?> ProbeDecodedSizeAsync(VfsContext ctx, ObjectInfo head, CancellationToken ct)
    {
        if (ctx.Options.Decoding is null || Codecs.ContentCodec.Parse(head.ContentEncoding) == Codecs.Codec.Identity) return null;
        try
        {
            return await Codecs.DecodedSizeProbe.ProbeAsync(ctx.Store, head, readZstdHeader: true, ct).ConfigureAwait(false);
        }
        catch (ObjectStoreException e) when (!VfsContext.IsUnreachable(e))
        {
            return null; // the object changed since the HEAD; the next look finds the new version
        }
    }

    /// <summary>HEADs one object and returns its entry with metadata, or <c>null</c> when it is gone.</summary>
    public static async Task<ChildEntry?> HeadEntryAsync(VfsContext ctx, string key, CancellationToken ct)
    {
        var head = await ctx.Store.HeadAsync(key, ct).ConfigureAwait(false);
        if (head is null) return null;
        return EntryFromHead(head, await ProbeDecodedSizeAsync(ctx, head, ct).ConfigureAwait(false));
    }

    /// <summary>
    /// Completes a fresh listing's entries with what the mount already knows — what it keeps, it keeps: a file
    /// whose version (ETag) the previous listing or an earlier HEAD, GET or write of ours described keeps that
    /// metadata and its kind (so a symlink stays a symlink); a directory keeps its marker's metadata. With exact
    /// attributes the others are HEADed (<see cref="ParallelHeads"/> at once; a directory's marker <c>name/</c>);
    /// files found gone meanwhile are dropped.
    /// </summary>
    /// <param name="ctx">The Vfs.</param>
    /// <param name="prefix">The directory's prefix.</param>
    /// <param name="entries">The listing, completed in place.</param>
    /// <param name="previous">The previous listing of the directory, or <c>null</c>.</param>
    /// <param name="known">What the mount knows of a key (any age) or recorded for that ETag, or <c>null</c>.</param>
    /// <param name="ct">Cancels the HEADs.</param>
    public static async Task CompleteListingAsync(VfsContext ctx, string prefix, Dictionary<string, ChildEntry> entries,
        IReadOnlyDictionary<string, ChildEntry>? previous, Func<string, string?, bool, ChildEntry?> known, CancellationToken ct)
    {
        var missing = new List<string>();
        foreach (var (name, e) in entries)
        {
            if (e.Head is not null) continue;
            ChildEntry? before = previous is not null && previous.TryGetValue(name, out var old) && old.Head is not null ? old : known(prefix + name, e.ETag, e.Kind == NodeKind.Directory);
            if (before is { Head: { } head } b && b.Kind == NodeKind.Directory == (e.Kind == NodeKind.Directory) && (e.Kind == NodeKind.Directory || e.Matches(head)))
            {
                entries[name] = e with { Kind = b.Kind, Head = head, DecodedSize = b.DecodedSize, Mtime = e.Kind == NodeKind.Directory ? b.Mtime : e.Mtime };
            }
            else
            {
                missing.Add(name);
            }
        }
        if (!ctx.ExactAttributes || missing.Count == 0) return;
        var found = new ChildEntry?[missing.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, missing.Count), new ParallelOptions { MaxDegreeOfParallelism = ParallelHeads, CancellationToken = ct },
            async (i, token) =>
            {
                string name = missing[i];
                if (entries[name].Kind == NodeKind.Directory)
                {
                    var marker = await ctx.Store.HeadAsync(prefix + name + "/", token).ConfigureAwait(false);
                    found[i] = marker is null ? entries[name] : DirectoryEntry(marker);
                }
                else
                {
                    found[i] = await HeadEntryAsync(ctx, prefix + name, token).ConfigureAwait(false);
                }
            }).ConfigureAwait(false);
        for (int i = 0; i < missing.Count; i++)
        {
            if (found[i] is { } e) entries[missing[i]] = e;
            else entries.Remove(missing[i]);
        }
    }
}
