using System.Runtime.InteropServices;
using CloudMount.Windows.Interop;

namespace CloudMount.Windows;

/// <summary>
/// Packs FSP_FSCTL_DIR_INFO records into a ReadDirectory buffer the way FspFileSystemAddDirInfo does
/// (src/dll/fsop.c, FspFileSystemAddXxxInfo): each record is the 104-byte header and the UTF-16 name, its Size
/// field counting both, placed at an 8-byte aligned offset; a record that does not fit is not written; the end of
/// the directory is a zero Size (2 bytes). Written in managed code so the logic that fills it runs, and is read
/// back by tests, anywhere.
/// </summary>
internal static class DirInfoBuffer
{
    /// <summary>sizeof(FSP_FSCTL_DIR_INFO) without the name (fsctl.h 311).</summary>
    public const int HeaderSize = 104;

    /// <summary>Adds one entry at <paramref name="used"/>; false (and nothing written) when it does not fit.</summary>
    public static bool TryAdd(Span<byte> buffer, ref int used, string name, in FspFileInfo info)
    {
        int size = HeaderSize + name.Length * 2;
        int aligned = (size + 7) & ~7;
        if (size > ushort.MaxValue || used + aligned > buffer.Length) return false;
        var record = buffer.Slice(used, aligned);
        record.Clear();
        var header = new FspDirInfo { Size = (ushort)size, FileInfo = info };
        MemoryMarshal.Write(record, in header);
        MemoryMarshal.AsBytes(name.AsSpan()).CopyTo(record[HeaderSize..]);
        used += aligned;
        return true;
    }

    /// <summary>Adds the end-of-directory marker; false when it does not fit (the next call adds it).</summary>
    public static bool TryAddEnd(Span<byte> buffer, ref int used)
    {
        if (used + 2 > buffer.Length) return false;
        buffer.Slice(used, 2).Clear();
        used += 2;
        return true;
    }

    /// <summary>Reads the entries back (for tests and the debug log): names and infos, and whether the end marker was seen.</summary>
    public static (List<(string Name, FspFileInfo Info)> Entries, bool End) Parse(ReadOnlySpan<byte> buffer)
    {
        var entries = new List<(string, FspFileInfo)>();
        int at = 0;
        while (at + 2 <= buffer.Length)
        {
            ushort size = MemoryMarshal.Read<ushort>(buffer[at..]);
            if (size == 0) return (entries, true);
            var header = MemoryMarshal.Read<FspDirInfo>(buffer[at..]);
            string name = new(MemoryMarshal.Cast<byte, char>(buffer.Slice(at + HeaderSize, size - HeaderSize)));
            entries.Add((name, header.FileInfo));
            at += (size + 7) & ~7;
        }
        return (entries, false);
    }
}
