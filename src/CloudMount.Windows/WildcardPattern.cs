namespace CloudMount.Windows;

/// <summary>
/// Windows name patterns as FsRtlIsNameInExpression reads them: <c>*</c> any run of characters, <c>?</c> one
/// character, and the DOS forms the Win32 layer produces: <c>&lt;</c> (DOS_STAR: any run up to the name's final
/// period), <c>&gt;</c> (DOS_QM: one character, or none before a period or the end), <c>"</c> (DOS_DOT: a period,
/// or none at the end). Matching ignores case: the WinFsp FSD filters the answers again with its own matcher,
/// so ours only has to let through every name the FSD's would (it is an optimisation, never stricter).
/// </summary>
internal static class WildcardPattern
{
    /// <summary>True when the pattern matches everything (<c>*</c>, or none given).</summary>
    public static bool MatchesAll(string? pattern) => string.IsNullOrEmpty(pattern) || pattern == "*";

    /// <summary>True when <paramref name="name"/> matches <paramref name="pattern"/>.</summary>
    public static bool IsMatch(string pattern, string name)
    {
        int lastDot = name.LastIndexOf('.');
        var memo = new Dictionary<(int, int), bool>();
        return Match(pattern.ToUpperInvariant(), 0, name.ToUpperInvariant(), 0, lastDot, memo);
    }

    private static bool Match(string p, int i, string n, int j, int lastDot, Dictionary<(int, int), bool> memo)
    {
        if (memo.TryGetValue((i, j), out bool known)) return known;
        bool result;
        if (i == p.Length)
        {
            result = j == n.Length;
        }
        else
        {
            char c = p[i];
            switch (c)
            {
                case '*':
                    result = Match(p, i + 1, n, j, lastDot, memo) || (j < n.Length && Match(p, i, n, j + 1, lastDot, memo));
                    break;
                case '<':
                    // Any run that stays before the final period (or anything, when there is none).
                    result = Match(p, i + 1, n, j, lastDot, memo) || (j < n.Length && (lastDot < 0 || j < lastDot) && Match(p, i, n, j + 1, lastDot, memo));
                    break;
                case '>':
                    result = (j < n.Length && n[j] != '.' && Match(p, i + 1, n, j + 1, lastDot, memo))
                        || ((j == n.Length || n[j] == '.') && Match(p, i + 1, n, j, lastDot, memo));
                    break;
                case '"':
                    result = (j < n.Length && n[j] == '.' && Match(p, i + 1, n, j + 1, lastDot, memo))
                        || (j == n.Length && Match(p, i + 1, n, j, lastDot, memo));
                    break;
                case '?':
                    result = j < n.Length && Match(p, i + 1, n, j + 1, lastDot, memo);
                    break;
                default:
                    result = j < n.Length && n[j] == c && Match(p, i + 1, n, j + 1, lastDot, memo);
                    break;
            }
        }
        memo[(i, j)] = result;
        return result;
    }
}
