namespace CloudMount.Core.Storage;

/// <summary>What to store beside the bytes of a written object.</summary>
public sealed record ObjectWriteOptions
{
    /// <summary>Default options: no content type, no encoding, no metadata.</summary>
    public static ObjectWriteOptions Default { get; } = new();

    /// <summary>Content-Type to store, or <c>null</c> for the service's default (usually <c>application/octet-stream</c>).</summary>
    public string? ContentType { get; init; }

    /// <summary>Content-Encoding to store (for example <c>gzip</c>), or <c>null</c>.</summary>
    public string? ContentEncoding { get; init; }

    /// <summary>User metadata: lower-case names without a service prefix.</summary>
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }

    /// <summary>
    /// Encode the content with this codec before storing it (handled by <see cref="Codecs.CodecObjectStore"/>; a
    /// raw store ignores it). <c>null</c> leaves the choice to the store's compression settings.
    /// </summary>
    public Codecs.Codec? EncodeAs { get; init; }

    /// <summary>
    /// MD5 of the whole content (16 bytes) to send as Content-MD5 so the service rejects corrupted uploads, or <c>null</c>.
    /// Set by <see cref="Decorators.UploadVerifyingObjectStore"/>.
    /// </summary>
    public byte[]? ContentMd5 { get; init; }
}
