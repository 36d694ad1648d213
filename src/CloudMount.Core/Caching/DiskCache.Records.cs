using Microsoft.Extensions.Logging;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace CloudMount.Core.Caching;

/// <summary>The disk cache's records on disk: <c>ID.meta</c> JSON, loading the index, and reading records without owning the folder.</summary>
public sealed partial class DiskCache
{
    private sealed record Meta(
        [property: JsonPropertyName("store")] string Store,
        [property: JsonPropertyName("key")] string Key,
        [property: JsonPropertyName("etag")] string ETag,
        [property: JsonPropertyName("size")] long Size,
        [property: JsonPropertyName("lastAccess")] DateTimeOffset LastAccess,
        [property: JsonPropertyName("blocks")] string Blocks,
        [property: JsonPropertyName("encoding")] string? Encoding = null);

    private static string EncodeBits(bool[] bits)
    {
        var bytes = new byte[(bits.Length + 7) / 8];
        for (int i = 0; i < bits.Length; i++)
        {
            if (bits[i]) bytes[i / 8] |= (byte)(1 << (i % 8));
        }
        return Convert.ToBase64String(bytes);
    }

    private static bool[] DecodeBits(string text, long count)
    {
        var bytes = Convert.FromBase64String(text);
        var bits = new bool[count];
        for (int i = 0; i < count && i / 8 < bytes.Length; i++)
        {
            bits[i] = (bytes[i / 8] & (1 << (i % 8))) != 0;
        }
        return bits;
    }

    private void LoadIndex()
    {
        foreach (var meta in System.IO.Directory.EnumerateFiles(_root, "*.meta", SearchOption.AllDirectories))
        {
            try
            {
                var m = JsonSerializer.Deserialize(File.ReadAllText(meta), MetaJson.Default.Meta)!;
                var v = new ObjectVersion(m.Store, m.Key, m.ETag, m.Size);
                string data = Path.ChangeExtension(meta, ".data");
                if (!File.Exists(data) || v.Id != Path.GetFileNameWithoutExtension(meta))
                {
                    File.Delete(meta);
                    continue;
                }
                var e = new DiskCacheEntry(v, data, meta, DecodeBits(m.Blocks, v.BlockCount), m.LastAccess, m.Encoding) { SavedAccess = m.LastAccess };
                AddLocked(e);
            }
            catch (Exception ex) when (ex is JsonException or IOException or FormatException or NullReferenceException)
            {
                _logger.LogWarning("dropping unreadable cache record {Path}: {Error}", meta, ex.Message);
                File.Delete(meta);
            }
        }
        // Data files without a record hold nothing claimed: remove them.
        foreach (var data in System.IO.Directory.EnumerateFiles(_root, "*.data", SearchOption.AllDirectories))
        {
            if (!File.Exists(Path.ChangeExtension(data, ".meta"))) File.Delete(data);
        }
    }

    private static void SaveMeta(DiskCacheEntry e)
    {
        var m = new Meta(e.Version.Store, e.Version.Key, e.Version.ETag, e.Version.Size, e.LastAccess, EncodeBits(e.Blocks), e.Encoding);
        string tmp = e.MetaPath + ".tmp";
        File.WriteAllText(tmp, JsonSerializer.Serialize(m, MetaJson.Default.Meta));
        File.Move(tmp, e.MetaPath, overwrite: true);
        e.SavedAccess = e.LastAccess;
    }

    /// <summary>One cached object version, for <c>cloudmount cache list</c>.</summary>
    /// <param name="Version">Store, key, ETag and size.</param>
    /// <param name="CachedBytes">Bytes present.</param>
    /// <param name="LastAccess">When it was last read or written.</param>
    public sealed record CacheEntryInfo(ObjectVersion Version, long CachedBytes, DateTimeOffset LastAccess);

    /// <summary>
    /// Reads the records of a cache folder without opening it (a running mount may hold it): what a
    /// <c>cloudmount cache list</c> shows. Unreadable records are skipped.
    /// </summary>
    public static IReadOnlyList<CacheEntryInfo> Inspect(string directory)
    {
        var result = new List<CacheEntryInfo>();
        string root = Path.Combine(directory, "data");
        if (!System.IO.Directory.Exists(root)) return result;
        foreach (var meta in System.IO.Directory.EnumerateFiles(root, "*.meta", SearchOption.AllDirectories))
        {
            try
            {
                var m = JsonSerializer.Deserialize(File.ReadAllText(meta), MetaJson.Default.Meta)!;
                var v = new ObjectVersion(m.Store, m.Key, m.ETag, m.Size);
                var bits = DecodeBits(m.Blocks, v.BlockCount);
                long bytes = 0;
                for (long b = 0; b < bits.Length; b++) if (bits[b]) bytes += v.BlockLength(b);
                result.Add(new CacheEntryInfo(v, bytes, m.LastAccess));
            }
            catch (Exception e) when (e is JsonException or IOException or FormatException or NullReferenceException)
            {
                // Skipped: the owning mount drops it when it next opens the cache.
            }
        }
        return result.OrderByDescending(e => e.LastAccess).ToList();
    }
}
