namespace CloudMount.Core.Storage;

/// <summary>
/// A range of bytes of an object, as in an HTTP <c>Range: bytes=Offset-(Offset+Length-1)</c> header.
/// </summary>
/// <param name="Offset">First byte, 0-based.</param>
/// <param name="Length">Number of bytes, or <c>null</c> for "to the end of the object".</param>
public readonly record struct ByteRange(long Offset, long? Length)
{
    /// <summary>The whole object.</summary>
    public static ByteRange All => new(0, null);

    /// <summary>True when this range starts at 0 and runs to the end.</summary>
    public bool IsWholeObject => Offset == 0 && Length is null;

    /// <summary>The last byte (inclusive) for an HTTP Range header, or <c>null</c> when open-ended.</summary>
    public long? LastByte => Length is { } l ? Offset + l - 1 : null;

    /// <summary>Clamps this range to an object of <paramref name="size"/> bytes; the result may be empty.</summary>
    public ByteRange ClampTo(long size)
    {
        long start = Math.Min(Offset, size);
        long end = Length is { } l ? Math.Min(size, Offset + l) : size;
        return new ByteRange(start, Math.Max(0, end - start));
    }

    /// <inheritdoc/>
    public override string ToString() => Length is { } l ? $"bytes={Offset}-{Offset + l - 1}" : $"bytes={Offset}-";
}
