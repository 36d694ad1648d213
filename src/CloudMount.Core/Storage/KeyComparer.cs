namespace CloudMount.Core.Storage;

/// <summary>
/// Orders keys by the bytes of their UTF-8 encoding, the order S3, Swift and GCS list in. This equals
/// Unicode code point order, which differs from .NET's ordinal (UTF-16) order only for surrogate pairs.
/// </summary>
public sealed class KeyComparer : IComparer<string>
{
    /// <summary>The single instance.</summary>
    public static KeyComparer Instance { get; } = new();

    /// <inheritdoc/>
    public int Compare(string? x, string? y)
    {
        if (ReferenceEquals(x, y)) return 0;
        if (x is null) return -1;
        if (y is null) return 1;
        int n = Math.Min(x.Length, y.Length);
        for (int i = 0; i < n; i++)
        {
            char a = x[i], b = y[i];
            if (a == b) continue;
            // Surrogates (U+D800-DFFF) encode code points above U+FFFF and must sort after U+E000-FFFF.
            bool sa = char.IsSurrogate(a), sb = char.IsSurrogate(b);
            if (sa != sb && (a >= 0xE000 || b >= 0xE000))
            {
                return sa ? 1 : -1;
            }
            return a < b ? -1 : 1;
        }
        return x.Length.CompareTo(y.Length);
    }
}
