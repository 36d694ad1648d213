using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace CloudMount.Core.Util;

/// <summary>
/// Source-generated System.Text.Json metadata for what Core writes and reads as JSON outside the caches
/// (request bodies built as <see cref="JsonObject"/>), so that no serializer call needs
/// reflection: trim- and NativeAOT-safe. Default options, as the reflection-based calls had.
/// </summary>
[JsonSerializable(typeof(JsonObject))]
internal sealed partial class CoreJsonContext : JsonSerializerContext;
