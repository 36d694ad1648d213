namespace CloudMount.Core;

/// <summary>Content-Type for new objects, from the file name's extension (a short list of common types).</summary>
public static class ContentTypes
{
    private static readonly Dictionary<string, string> Map = new(StringComparer.OrdinalIgnoreCase)
    {
        [".txt"] = "text/plain", [".csv"] = "text/csv", [".tsv"] = "text/tab-separated-values",
        [".json"] = "application/json", [".html"] = "text/html", [".htm"] = "text/html", [".xml"] = "application/xml",
        [".md"] = "text/markdown", [".py"] = "text/x-python", [".r"] = "text/plain", [".sh"] = "text/x-shellscript",
        [".png"] = "image/png", [".jpg"] = "image/jpeg", [".jpeg"] = "image/jpeg", [".gif"] = "image/gif",
        [".tif"] = "image/tiff", [".tiff"] = "image/tiff", [".svg"] = "image/svg+xml", [".pdf"] = "application/pdf",
        [".zip"] = "application/zip", [".gz"] = "application/gzip", [".tar"] = "application/x-tar",
        [".zst"] = "application/zstd", [".br"] = "application/x-brotli", [".parquet"] = "application/vnd.apache.parquet",
        [".mp4"] = "video/mp4", [".wasm"] = "application/wasm", [".js"] = "text/javascript", [".css"] = "text/css",
    };

    /// <summary>The type for <paramref name="name"/>, or <c>application/octet-stream</c>.</summary>
    public static string ForName(string name) =>
        Map.TryGetValue(Path.GetExtension(name), out var t) ? t : "application/octet-stream";
}
