using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace CloudMount.Core.Storage.Http;

/// <summary>One entry of a directory index: a key (directories end in <c>/</c>), and what the index says of it.</summary>
/// <param name="Key">Full key: the directory's key followed by the entry's name.</param>
/// <param name="IsDirectory">A subdirectory.</param>
/// <param name="Size">Exact size in bytes, or <c>null</c> when the index gives none or a rounded one (4.0K).</param>
/// <param name="Modified">Modification time, or <c>null</c>.</param>
/// <param name="ETag">Never given by indexes; <c>null</c>.</param>
public sealed record IndexEntry(string Key, bool IsDirectory, long? Size, DateTimeOffset? Modified, string? ETag = null);

/// <summary>
/// Reads web server directory indexes: nginx's JSON autoindex (<c>autoindex_format json</c>: name, type, mtime
/// as an HTTP date, size), and HTML indexes as nginx's and Apache's autoindex write them: every relative link is
/// an entry (a trailing slash marks a directory), and the text after the link on the same line or table row
/// gives the date and the size, exact when it is a plain number of bytes (nginx's default
/// <c>autoindex_exact_size on</c>), rounded otherwise (Apache, or nginx with it off), in which case the size is
/// left unknown for a HEAD to find.
/// </summary>
public static partial class IndexParser
{
    /// <summary>Parses an index page of the directory whose key is <paramref name="directory"/> ("" or ending in /).</summary>
    /// <exception cref="FormatException">Neither JSON nor an HTML page with links.</exception>
    public static IReadOnlyList<IndexEntry> Parse(string body, string? mediaType, string directory)
    {
        string trimmed = body.TrimStart();
        if (mediaType is "application/json" || trimmed.StartsWith('['))
        {
            return ParseJson(trimmed, directory);
        }
        if (mediaType is "text/html" or null || trimmed.StartsWith('<'))
        {
            return ParseHtml(body, directory);
        }
        throw new FormatException($"an index of type {mediaType} is neither HTML nor nginx's JSON");
    }

    private static IReadOnlyList<IndexEntry> ParseJson(string body, string directory)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            var entries = new List<IndexEntry>();
            foreach (var e in doc.RootElement.EnumerateArray())
            {
                string name = e.GetProperty("name").GetString() ?? throw new FormatException("an entry without a name");
                bool dir = e.TryGetProperty("type", out var t) && t.GetString() == "directory";
                if (!ValidName(name)) continue;
                DateTimeOffset? modified = e.TryGetProperty("mtime", out var m) && DateTimeOffset.TryParse(m.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var when) ? when : null;
                long? size = !dir && e.TryGetProperty("size", out var s) && s.ValueKind == JsonValueKind.Number ? s.GetInt64() : null;
                entries.Add(new IndexEntry(directory + name + (dir ? "/" : ""), dir, dir ? 0 : size, modified));
            }
            return entries;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException)
        {
            throw new FormatException($"not nginx's JSON index: {e.Message}", e);
        }
    }

    /// <summary>
    /// Parses an S3 ListBucketResult (ListObjects v1), which public buckets' https endpoints of S3 and GCS (its XML
    /// API) give for <c>GET /BUCKET?prefix=P&amp;delimiter=/</c>: Contents (Key, Size, ETag, LastModified) and
    /// CommonPrefixes. Keys come back prefixed with <paramref name="bucketKey"/> ("BUCKET/").
    /// </summary>
    /// <returns>The entries, and the marker to continue from when the result is truncated.</returns>
    /// <exception cref="FormatException">Not a ListBucketResult.</exception>
    public static (IReadOnlyList<IndexEntry> Entries, string? NextMarker) ParseBucketListing(string body, string bucketKey)
    {
        XElement root;
        try
        {
            root = XElement.Parse(body);
        }
        catch (System.Xml.XmlException e)
        {
            throw new FormatException($"not XML: {e.Message}", e);
        }
        if (root.Name.LocalName != "ListBucketResult") throw new FormatException($"<{root.Name.LocalName}> is not a ListBucketResult");
        string? Child(XElement e, string name) => e.Elements().FirstOrDefault(x => x.Name.LocalName == name)?.Value;
        var entries = new List<IndexEntry>();
        string? last = null;
        foreach (var e in root.Elements())
        {
            if (e.Name.LocalName == "Contents" && Child(e, "Key") is { } key)
            {
                last = key;
                if (key.EndsWith('/')) continue; // a directory marker: the prefix speaks for it
                long? size = long.TryParse(Child(e, "Size"), NumberStyles.None, CultureInfo.InvariantCulture, out long n) ? n : null;
                DateTimeOffset? modified = DateTimeOffset.TryParse(Child(e, "LastModified"), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? t : null;
                entries.Add(new IndexEntry(bucketKey + key, false, size, modified, Child(e, "ETag")));
            }
            else if (e.Name.LocalName == "CommonPrefixes" && Child(e, "Prefix") is { } prefix)
            {
                last = prefix;
                entries.Add(new IndexEntry(bucketKey + prefix, true, 0, null));
            }
        }
        bool truncated = string.Equals(Child(root, "IsTruncated"), "true", StringComparison.OrdinalIgnoreCase);
        return (entries, truncated ? Child(root, "NextMarker") ?? last : null);
    }

    [GeneratedRegex("<a\\s[^>]*?href\\s*=\\s*[\"']([^\"'#?]+)[\"'][^>]*>", RegexOptions.IgnoreCase)]
    private static partial Regex Link();

    [GeneratedRegex("<[^>]+>")]
    private static partial Regex Tag();

    // nginx: 23-Nov-2026 08:40   5000 ; Apache: 2026-11-23 08:40  5.0K
    [GeneratedRegex("(\\d{1,2}-[A-Za-z]{3}-\\d{4} \\d{2}:\\d{2}(?::\\d{2})?|\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}(?::\\d{2})?)\\s+(\\d+(?:\\.\\d+)?[KMGTP]?|-)\\s*$")]
    private static partial Regex DateAndSize();

    private static IReadOnlyList<IndexEntry> ParseHtml(string body, string directory)
    {
        var links = Link().Matches(body);
        if (!body.Contains("<a", StringComparison.OrdinalIgnoreCase) && !body.Contains("<html", StringComparison.OrdinalIgnoreCase))
        {
            throw new FormatException("not an HTML index");
        }
        var entries = new List<IndexEntry>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < links.Count; i++)
        {
            string href = links[i].Groups[1].Value.Trim();
            // Only entries of this directory: relative, one segment, not the parent or a sort link.
            if (href.StartsWith('/') || href.Contains("://", StringComparison.Ordinal) || href.StartsWith("..", StringComparison.Ordinal) || href.StartsWith("./", StringComparison.Ordinal)) continue;
            string name;
            try
            {
                name = Uri.UnescapeDataString(WebUtility.HtmlDecode(href));
            }
            catch (UriFormatException)
            {
                continue;
            }
            bool dir = name.EndsWith('/');
            name = name.TrimEnd('/');
            if (!ValidName(name) || name.Contains('/') || !seen.Add(name)) continue;
            // What follows the link up to the next link or line end: the date and the size columns.
            int from = links[i].Index + links[i].Length;
            int to = i + 1 < links.Count ? links[i + 1].Index : body.Length;
            string after = body[from..to];
            int close = after.IndexOf("</a>", StringComparison.OrdinalIgnoreCase);
            if (close >= 0) after = after[(close + 4)..];
            // Apache writes a table row and nginx a line: either way the row is the first line without tags.
            string row = FirstLine(WebUtility.HtmlDecode(Tag().Replace(after, " ")).Replace('\u00a0', ' '));
            long? size = null;
            DateTimeOffset? modified = null;
            var m = DateAndSize().Match(row);
            if (m.Success)
            {
                modified = ParseDate(m.Groups[1].Value);
                string s = m.Groups[2].Value;
                if (!dir && long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out long exact)) size = exact;
            }
            entries.Add(new IndexEntry(directory + name + (dir ? "/" : ""), dir, dir ? 0 : size, modified));
        }
        return entries;
    }

    private static string FirstLine(string s)
    {
        int eol = s.IndexOfAny(['\n', '\r']);
        return eol < 0 ? s : s[..eol].Trim();
    }

    private static DateTimeOffset? ParseDate(string s)
    {
        string[] formats = ["dd-MMM-yyyy HH:mm", "d-MMM-yyyy HH:mm", "dd-MMM-yyyy HH:mm:ss", "yyyy-MM-dd HH:mm", "yyyy-MM-dd HH:mm:ss"];
        return DateTimeOffset.TryParseExact(s, formats, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? t : null;
    }

    private static bool ValidName(string name) => name.Length > 0 && name != "." && name != "..";
}
