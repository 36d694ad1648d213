using System.Globalization;

namespace CloudMount.Core;

/// <summary>Byte-count helpers: formatting and parsing sizes such as <c>512MiB</c>, <c>8M</c>, <c>1G</c>.</summary>
public static class Bytes
{
    /// <summary>One kibibyte, 1,024 bytes.</summary>
    public const long KiB = 1024;
    /// <summary>One mebibyte, 1,048,576 bytes.</summary>
    public const long MiB = 1024 * KiB;
    /// <summary>One gibibyte.</summary>
    public const long GiB = 1024 * MiB;

    /// <summary>Formats a byte count for people: <c>0 B</c>, <c>1.5 KiB</c>, <c>512.0 MiB</c>.</summary>
    public static string Format(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
        double v = bytes;
        int u = 0;
        while (Math.Abs(v) >= 1024 && u < units.Length - 1)
        {
            v /= 1024;
            u++;
        }
        return u == 0 ? $"{bytes} B" : string.Create(CultureInfo.InvariantCulture, $"{v:0.0} {units[u]}");
    }

    /// <summary>Parses <c>1048576</c>, <c>64K</c>, <c>8MiB</c>, <c>1G</c>, <c>2TB</c> (binary multiples in every spelling).</summary>
    /// <exception cref="FormatException">The text is not a size.</exception>
    public static long Parse(string text)
    {
        string t = text.Trim();
        int i = 0;
        while (i < t.Length && (char.IsAsciiDigit(t[i]) || t[i] == '.')) i++;
        if (i == 0 || !double.TryParse(t[..i], NumberStyles.Float, CultureInfo.InvariantCulture, out double n))
        {
            throw new FormatException($"not a size: '{text}' (examples: 1048576, 64K, 8MiB, 1G)");
        }
        long mult = t[i..].Trim().ToUpperInvariant() switch
        {
            "" or "B" => 1,
            "K" or "KB" or "KIB" => KiB,
            "M" or "MB" or "MIB" => MiB,
            "G" or "GB" or "GIB" => GiB,
            "T" or "TB" or "TIB" => 1024 * GiB,
            _ => throw new FormatException($"not a size: '{text}' (examples: 1048576, 64K, 8MiB, 1G)"),
        };
        return checked((long)(n * mult));
    }
}
