using System.Text.Json.Serialization;

namespace CloudMount.Core.Caching;

public sealed partial class DiskCache
{
    /// <summary>Source-generated JSON metadata for <see cref="Meta"/> records (trim- and NativeAOT-safe, default options).</summary>
    [JsonSerializable(typeof(Meta))]
    private sealed partial class MetaJson : JsonSerializerContext;
}
