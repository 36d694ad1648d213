using System.Text;

namespace CloudMount.Windows;

/// <summary>
/// The documented, reversible rule for object names Windows cannot show, after rclone's encoder
/// (lib/encoder: "Win" and "Ctl" sets, the right-space and right-period rules, and its quote character):
/// <list type="bullet">
/// <item><c>\ : * ? " &lt; &gt; |</c> become their full-width look-alikes <c>＼ ： ＊ ？ ＂ ＜ ＞ ｜</c> (U+FF3C, U+FF1A, ...).</item>
/// <item>Control characters U+0001-U+001F become the control pictures U+2401-U+241F (<c>␁</c> ...).</item>
/// <item>A trailing space becomes <c>␠</c> (U+2420) and a trailing period <c>．</c> (U+FF0E): Windows drops both.</item>
/// <item>A reserved device name (<c>CON PRN AUX NUL COM0-9 LPT0-9</c>, with or without an extension, any case)
/// gets its first letter in full width: <c>CON.txt</c> shows as <c>ＣON.txt</c>.</item>
/// <item>A name that already holds one of those replacement characters where the rule would produce it gets the
/// quote <c>‛</c> (U+201B) before it, and so does the quote itself, so every name maps back to itself.</item>
/// </list>
/// <see cref="ToWindows"/> is applied to every name shown; <see cref="ToStore"/> to every name Windows passes in.
/// <c>ToStore(ToWindows(n)) == n</c> for every store name.
/// </summary>
internal static class WindowsNames
{
    /// <summary>The quote character (rclone's): the next character is taken literally.</summary>
    public const char Quote = '\u201B';

    private const string Invalid = "\\:*?\"<>|";
    private const string FullWidth = "\uFF3C\uFF1A\uFF0A\uFF1F\uFF02\uFF1C\uFF1E\uFF5C";
    private const char TrailingSpace = '\u2420';
    private const char TrailingPeriod = '\uFF0E';

    /// <summary>How an object name is shown on Windows.</summary>
    public static string ToWindows(string name)
    {
        if (!NeedsEncoding(name)) return name;
        var sb = new StringBuilder(name.Length + 4);
        for (int i = 0; i < name.Length; i++)
        {
            char c = name[i];
            bool last = i == name.Length - 1;
            int invalid = Invalid.IndexOf(c);
            if (invalid >= 0) sb.Append(FullWidth[invalid]);
            else if (c is > '\0' and < ' ') sb.Append((char)(0x2400 + c));
            else if (last && c == ' ') sb.Append(TrailingSpace);
            else if (last && c == '.') sb.Append(TrailingPeriod);
            else if (i == 0 && IsReserved(name)) sb.Append(ToFullWidthLetter(c));
            else
            {
                if (IsReplacement(c, i, name) ) sb.Append(Quote);
                sb.Append(c);
            }
        }
        return sb.ToString();
    }

    /// <summary>The object name for a name Windows passes in (the inverse of <see cref="ToWindows"/>).</summary>
    public static string ToStore(string name)
    {
        if (!NeedsDecoding(name)) return name;
        var sb = new StringBuilder(name.Length);
        for (int i = 0; i < name.Length; i++)
        {
            char c = name[i];
            if (c == Quote && i + 1 < name.Length)
            {
                sb.Append(name[++i]);
                continue;
            }
            bool last = i == name.Length - 1;
            int full = FullWidth.IndexOf(c);
            if (full >= 0) sb.Append(Invalid[full]);
            else if (c is > '\u2400' and < '\u2420') sb.Append((char)(c - 0x2400));
            else if (last && c == TrailingSpace) sb.Append(' ');
            else if (last && c == TrailingPeriod) sb.Append('.');
            else if (i == 0 && IsFullWidthLetter(c) && IsReserved(FromFullWidthLetter(c) + name[1..])) sb.Append(FromFullWidthLetter(c));
            else sb.Append(c);
        }
        return sb.ToString();
    }

    /// <summary>True for CON, PRN, AUX, NUL, COM0-9, LPT0-9 (also with superscript digits), with any extension, in any case.</summary>
    public static bool IsReserved(string name)
    {
        int dot = name.IndexOf('.');
        var stem = (dot < 0 ? name : name[..dot]).TrimEnd(' ');
        if (stem.Length == 3)
        {
            return stem.Equals("CON", StringComparison.OrdinalIgnoreCase) || stem.Equals("PRN", StringComparison.OrdinalIgnoreCase)
                || stem.Equals("AUX", StringComparison.OrdinalIgnoreCase) || stem.Equals("NUL", StringComparison.OrdinalIgnoreCase);
        }
        if (stem.Length == 4 && (stem.StartsWith("COM", StringComparison.OrdinalIgnoreCase) || stem.StartsWith("LPT", StringComparison.OrdinalIgnoreCase)))
        {
            char d = stem[3];
            return d is (>= '0' and <= '9') or '\u00B9' or '\u00B2' or '\u00B3';
        }
        return false;
    }

    /// <summary>True when <paramref name="c"/> at <paramref name="i"/> is something <see cref="ToStore"/> would turn back into another character.</summary>
    private static bool IsReplacement(char c, int i, string name) =>
        c == Quote
        || FullWidth.Contains(c)
        || c is > '\u2400' and < '\u2420'
        || (i == name.Length - 1 && (c == TrailingSpace || c == TrailingPeriod))
        || (i == 0 && IsFullWidthLetter(c) && IsReserved(FromFullWidthLetter(c) + name[1..]));

    private static bool NeedsEncoding(string name)
    {
        if (name.Length == 0) return false;
        if (name[^1] is ' ' or '.' || IsReserved(name)) return true;
        for (int i = 0; i < name.Length; i++)
        {
            char c = name[i];
            if (c < ' ' || Invalid.Contains(c) || IsReplacement(c, i, name)) return true;
        }
        return false;
    }

    private static bool NeedsDecoding(string name)
    {
        foreach (char c in name)
        {
            if (c == Quote || FullWidth.Contains(c) || c is > '\u2400' and <= '\u2420' || c == TrailingPeriod || IsFullWidthLetter(c)) return true;
        }
        return false;
    }

    private static bool IsFullWidthLetter(char c) => c is (>= '\uFF21' and <= '\uFF3A') or (>= '\uFF41' and <= '\uFF5A');

    private static char ToFullWidthLetter(char c) => (char)(c + 0xFEE0);

    private static char FromFullWidthLetter(char c) => (char)(c - 0xFEE0);
}
