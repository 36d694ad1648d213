namespace CloudMount.Core.Storage;

/// <summary>
/// Builds S3-style delimiter listings from a sorted sequence of keys, for backends that have no listing
/// service of their own (<c>mem://</c>, <c>file://</c>). Page tokens are the last key or prefix returned.
/// </summary>
internal static class ListingBuilder
{
    /// <summary>
    /// Produces one page from <paramref name="sortedObjects"/> (sorted by <see cref="KeyComparer"/>), honouring
    /// prefix, delimiter, page token (exclusive start) and max keys.
    /// </summary>
    public static ListPage Build(IEnumerable<ObjectInfo> sortedObjects, ListRequest request)
    {
        var objects = new List<ObjectInfo>();
        var prefixes = new List<string>();
        string? after = request.PageToken;
        string? last = null;
        int max = Math.Clamp(request.MaxKeys, 1, 1000);
        foreach (var o in sortedObjects)
        {
            if (!o.Key.StartsWith(request.Prefix, StringComparison.Ordinal))
            {
                continue;
            }
            string entry = o.Key;
            bool isPrefix = false;
            if (!string.IsNullOrEmpty(request.Delimiter))
            {
                int i = o.Key.IndexOf(request.Delimiter, request.Prefix.Length, StringComparison.Ordinal);
                if (i >= 0)
                {
                    entry = o.Key[..(i + request.Delimiter.Length)];
                    isPrefix = true;
                }
            }
            if (after is not null && KeyComparer.Instance.Compare(entry, after) <= 0)
            {
                continue;
            }
            if (isPrefix && entry == last)
            {
                continue;
            }
            if (objects.Count + prefixes.Count == max)
            {
                return new ListPage(objects, prefixes, last);
            }
            if (isPrefix)
            {
                prefixes.Add(entry);
            }
            else
            {
                objects.Add(o);
            }
            last = entry;
        }
        return new ListPage(objects, prefixes, null);
    }
}
