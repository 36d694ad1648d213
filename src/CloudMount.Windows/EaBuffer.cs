using System.Buffers.Binary;
using System.Text;

namespace CloudMount.Windows;

/// <summary>
/// FILE_FULL_EA_INFORMATION lists (winfsp.h 95-102; wdm.h), packed as FspFileSystemAddEa packs them
/// (src/dll/fsop.c): NextEntryOffset (4 bytes, 0 on the last entry), Flags (1), EaNameLength (1, without the
/// terminator), EaValueLength (2), the ASCII name and its NUL, the value; each entry at a 4-byte boundary.
/// </summary>
internal static class EaBuffer
{
    /// <summary>FIELD_OFFSET(FILE_FULL_EA_INFORMATION, EaName).</summary>
    public const int HeaderSize = 8;

    /// <summary>Packs <paramref name="entries"/>; false when they do not all fit.</summary>
    public static bool TryPack(IReadOnlyList<(string Name, byte[] Value)> entries, Span<byte> buffer, out int used)
    {
        used = 0;
        int last = -1;
        foreach (var (name, value) in entries)
        {
            int at = (used + 3) & ~3;
            int length = HeaderSize + name.Length + 1 + value.Length;
            if (at + length > buffer.Length) return false;
            var e = buffer.Slice(at, length);
            e.Clear();
            e[5] = (byte)name.Length;
            BinaryPrimitives.WriteUInt16LittleEndian(e[6..], (ushort)value.Length);
            Encoding.ASCII.GetBytes(name, e[HeaderSize..]);
            value.CopyTo(e[(HeaderSize + name.Length + 1)..]);
            if (last >= 0) BinaryPrimitives.WriteUInt32LittleEndian(buffer[last..], (uint)(at - last));
            last = at;
            used = at + length;
        }
        return true;
    }

    /// <summary>Reads a list back: names and values, in order.</summary>
    /// <exception cref="NtStatusException">STATUS_INVALID_PARAMETER for an entry that runs past the buffer.</exception>
    public static List<(string Name, byte[] Value)> Parse(ReadOnlySpan<byte> buffer)
    {
        var entries = new List<(string, byte[])>();
        int at = 0;
        while (at + HeaderSize <= buffer.Length)
        {
            uint next = BinaryPrimitives.ReadUInt32LittleEndian(buffer[at..]);
            int nameLength = buffer[at + 5];
            int valueLength = BinaryPrimitives.ReadUInt16LittleEndian(buffer[(at + 6)..]);
            int end = at + HeaderSize + nameLength + 1 + valueLength;
            if (end > buffer.Length) throw new NtStatusException(NtStatus.InvalidParameter, "extended attribute past the end of its buffer");
            string name = Encoding.ASCII.GetString(buffer.Slice(at + HeaderSize, nameLength));
            entries.Add((name, buffer.Slice(at + HeaderSize + nameLength + 1, valueLength).ToArray()));
            if (next == 0) break;
            at += (int)next;
        }
        return entries;
    }

    /// <summary>True when a Windows EA name can carry <paramref name="name"/>: printable ASCII, at most 255 characters.</summary>
    public static bool IsEaName(string name) => name.Length is > 0 and <= 255 && name.All(c => c is > ' ' and < '\x7f');
}
