using CloudMount.Core.Storage;
using Microsoft.Extensions.Logging;

namespace CloudMount.Core.Vfs;

/// <summary>
/// The LIST requests behind <see cref="DirectoryViews"/>: one directory level page by page, or one name. Holds no
/// state; what the answers mean for the mount's view (local changes that win, caching) is the views' business.
/// </summary>
internal sealed class DirectoryLister(VfsContext ctx)
{
    /// <summary>
    /// Lists one directory level: one LIST per page (1,000 entries on S3), applying the <see cref="KeyNames"/>
    /// rules. Returns the entries and the pages they took, or 0 pages when more than <paramref name="maxPages"/>
    /// would be needed (the entries are then incomplete).
    /// </summary>
    public async Task<(Dictionary<string, ChildEntry> Entries, int Pages)> ListAsync(string prefix, int maxPages, CancellationToken ct)
    {
        var entries = new Dictionary<string, ChildEntry>(StringComparer.Ordinal);
        string? token = null;
        int pages = 0;
        do
        {
            if (pages == maxPages) return (entries, 0);
            pages++;
            var page = await ctx.Store.ListAsync(new ListRequest(prefix, "/", token), ct).ConfigureAwait(false);
            foreach (var p in page.CommonPrefixes)
            {
                string name = p.Length > prefix.Length ? p[prefix.Length..^1] : "";
                if (!KeyNames.IsValidName(name))
                {
                    ctx.Logger.LogDebug("prefix '{Prefix}' cannot be a directory name; not listed", p);
                    continue;
                }
                entries[name] = new ChildEntry(NodeKind.Directory, 0, null, ctx.MountTime);
            }
            foreach (var o in page.Objects)
            {
                if (o.Key == prefix) continue; // this directory's own marker
                string name = o.Key[prefix.Length..];
                if (!KeyNames.IsValidName(name))
                {
                    ctx.Logger.LogDebug("key '{Key}' cannot be a file name; not listed", o.Key);
                    continue;
                }
                if (entries.TryGetValue(name, out var existing) && existing.Kind == NodeKind.Directory)
                {
                    ctx.Logger.LogDebug("key '{Key}' is hidden by the directory of the same name", o.Key);
                    continue;
                }
                entries[name] = ObjectHeads.ListedEntry(o);
            }
            token = page.NextPageToken;
        }
        while (token is not null);
        return (entries, pages);
    }

    /// <summary>
    /// What <paramref name="key"/> is, from LISTs with prefix = the key and delimiter '/': the object itself and the
    /// common prefix <c>key/</c> both show up in them (pages are read until they pass <c>key/</c>). Returns
    /// <c>null</c> for "does not exist".
    /// </summary>
    public async Task<ChildEntry?> ResolveAsync(string key, CancellationToken ct)
    {
        string asDir = key + "/";
        ChildEntry? file = null;
        string? token = null;
        do
        {
            var page = await ctx.Store.ListAsync(new ListRequest(key, "/", token), ct).ConfigureAwait(false);
            bool passed = false;
            foreach (var p in page.CommonPrefixes)
            {
                if (p == asDir) return new ChildEntry(NodeKind.Directory, 0, null, ctx.MountTime);
                passed |= KeyComparer.Instance.Compare(p, asDir) > 0;
            }
            foreach (var o in page.Objects)
            {
                if (o.Key == key) file = ObjectHeads.ListedEntry(o);
                passed |= KeyComparer.Instance.Compare(o.Key, asDir) > 0;
            }
            token = passed ? null : page.NextPageToken;
        }
        while (token is not null);
        return file;
    }
}
