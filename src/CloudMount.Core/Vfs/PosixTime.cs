using System.Globalization;

namespace CloudMount.Core.Vfs;

/// <summary>
/// A POSIX timestamp to the nanosecond (a <c>struct timespec</c>): what utimensat sets and stat shows. A
/// <see cref="DateTimeOffset"/> holds only 100 ns, and tools such as rsync compare nanoseconds, so times set by
/// a caller travel as this type and are stored in metadata with all nine digits (rclone's <c>mtime</c> form).
/// It converts to and from <see cref="DateTimeOffset"/> implicitly (to it, losing what is below 100 ns).
/// </summary>
/// <param name="Seconds">Seconds since the Unix epoch.</param>
/// <param name="Nanoseconds">Nanoseconds, 0 to 999,999,999.</param>
public readonly record struct PosixTime(long Seconds, uint Nanoseconds) : IComparable<PosixTime>
{
    /// <summary>Smallest seconds a time may have here (0001-01-01, the smallest <see cref="DateTimeOffset"/>).</summary>
    public const long MinSeconds = -62135596800L;

    /// <summary>Largest seconds a time may have here (9999-12-31T23:59:59).</summary>
    public const long MaxSeconds = 253402300799L;

    /// <summary>The time of a <see cref="DateTimeOffset"/>.</summary>
    public static PosixTime From(DateTimeOffset t)
    {
        long ticks = t.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks;
        long seconds = Math.DivRem(ticks, TimeSpan.TicksPerSecond, out long rest);
        if (rest < 0)
        {
            seconds--;
            rest += TimeSpan.TicksPerSecond;
        }
        return new PosixTime(seconds, (uint)(rest * 100));
    }

    /// <summary>True when the time can be stored (a year 1 to 9999, nanoseconds below a second).</summary>
    public bool IsValid => Seconds is >= MinSeconds and <= MaxSeconds && Nanoseconds < 1_000_000_000;

    /// <summary>The time to the 100 ns a <see cref="DateTimeOffset"/> holds.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The time is not <see cref="IsValid"/>.</exception>
    public DateTimeOffset ToDateTimeOffset() => DateTimeOffset.FromUnixTimeSeconds(Seconds).AddTicks(Nanoseconds / 100);

    /// <summary>Converts a <see cref="DateTimeOffset"/>.</summary>
    public static implicit operator PosixTime(DateTimeOffset t) => From(t);

    /// <summary>Converts to a <see cref="DateTimeOffset"/> (to 100 ns).</summary>
    public static implicit operator DateTimeOffset(PosixTime t) => t.ToDateTimeOffset();

    /// <inheritdoc/>
    public int CompareTo(PosixTime other) => Seconds != other.Seconds ? Seconds.CompareTo(other.Seconds) : Nanoseconds.CompareTo(other.Nanoseconds);

    /// <summary>Earlier than.</summary>
    public static bool operator <(PosixTime a, PosixTime b) => a.CompareTo(b) < 0;

    /// <summary>Later than.</summary>
    public static bool operator >(PosixTime a, PosixTime b) => a.CompareTo(b) > 0;

    /// <summary>Not later than.</summary>
    public static bool operator <=(PosixTime a, PosixTime b) => a.CompareTo(b) <= 0;

    /// <summary>Not earlier than.</summary>
    public static bool operator >=(PosixTime a, PosixTime b) => a.CompareTo(b) >= 0;

    /// <summary>As rclone writes mtime: seconds, then nine digits of nanoseconds after a dot when there are any.</summary>
    public override string ToString() => Nanoseconds == 0
        ? Seconds.ToString(CultureInfo.InvariantCulture)
        : $"{Seconds.ToString(CultureInfo.InvariantCulture)}.{Nanoseconds.ToString("D9", CultureInfo.InvariantCulture)}";

    /// <summary>Seconds since the epoch, whole (s3fs) or with a fraction of up to nanoseconds (rclone); <c>null</c> when malformed or out of range.</summary>
    public static PosixTime? Parse(string text)
    {
        text = text.Trim();
        int dot = text.IndexOf('.', StringComparison.Ordinal);
        string whole = dot < 0 ? text : text[..dot];
        if (!long.TryParse(whole, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long seconds)) return null;
        uint nanos = 0;
        if (dot >= 0)
        {
            string fraction = text[(dot + 1)..];
            if (fraction.Length == 0 || !fraction.All(char.IsAsciiDigit)) return null;
            fraction = (fraction.Length > 9 ? fraction[..9] : fraction).PadRight(9, '0');
            nanos = uint.Parse(fraction, CultureInfo.InvariantCulture);
        }
        var t = new PosixTime(seconds, nanos);
        return t.IsValid ? t : null;
    }
}
