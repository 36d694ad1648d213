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

    /// <summary>The entry a HEAD answer describes: a symlink when its <c>mode</c> says so, else a file.</summary>
    public static ChildEntry EntryFromHead(ObjectInfo head, long? decodedSize) =>
        new(PosixMetadata.Parse(head.Metadata).IsSymlink ? NodeKind.Symlink : NodeKind.File, head.Size, head.ETag, head.LastModified, head, decodedSize);

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
    /// Completes a fresh listing's file entries with metadata: entries whose version the previous listing had
    /// already HEADed keep that answer; with exact attributes, the others are HEADed (<see cref="ParallelHeads"/>
    /// at once). Entries found gone meanwhile are dropped.
    /// </summary>
    public static async Task CompleteListingAsync(VfsContext ctx, string prefix, Dictionary<string, ChildEntry> entries,
        IReadOnlyDictionary<string, ChildEntry>? previous, CancellationToken ct)
    {
        var missing = new List<string>();
        foreach (var (name, e) in entries)
        {
            if (e.Kind == NodeKind.Directory || e.Head is not null) continue;
            if (previous is not null && previous.TryGetValue(name, out var old) && old.Head is { } head && e.Matches(head))
            {
                entries[name] = e with { Kind = old.Kind, Head = head, DecodedSize = old.DecodedSize };
            }
            else
            {
                missing.Add(name);
            }
        }
        if (!ctx.ExactAttributes || missing.Count == 0) return;
        var found = new ChildEntry?[missing.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, missing.Count), new ParallelOptions { MaxDegreeOfParallelism = ParallelHeads, CancellationToken = ct },
            async (i, token) => found[i] = await HeadEntryAsync(ctx, prefix + missing[i], token).ConfigureAwait(false)).ConfigureAwait(false);
        for (int i = 0; i < missing.Count; i++)
        {
            if (found[i] is { } e) entries[missing[i]] = e;
            else entries.Remove(missing[i]);
        }
    }
}
