using System.Globalization;

namespace CloudMount.Core.Storage;

/// <summary>Parses the HTTP <c>Content-Range: bytes START-END/SIZE</c> header (RFC 9110 §14.4).</summary>
public static class ContentRange
{
    /// <summary>Parses <paramref name="header"/>; false when it is missing, malformed, or has an unknown size (<c>*</c>).</summary>
    public static bool TryParse(string? header, out long start, out long end, out long size)
    {
        start = end = size = 0;
        if (string.IsNullOrEmpty(header)) return false;
        var s = header.AsSpan().Trim();
        if (!s.StartsWith("bytes", StringComparison.OrdinalIgnoreCase)) return false;
        s = s[5..].TrimStart();
        int dash = s.IndexOf('-');
        int slash = s.IndexOf('/');
        if (dash <= 0 || slash <= dash) return false;
        return long.TryParse(s[..dash], NumberStyles.None, CultureInfo.InvariantCulture, out start)
            && long.TryParse(s[(dash + 1)..slash], NumberStyles.None, CultureInfo.InvariantCulture, out end)
            && long.TryParse(s[(slash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out size);
    }
}
