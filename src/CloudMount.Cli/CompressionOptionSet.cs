using System.CommandLine;
using CloudMount.Core.Codecs;

namespace CloudMount.Cli;

/// <summary><c>--compress</c>, <c>--compression-level</c> and <c>--compress-skip</c>, shared by mount and cp.</summary>
internal sealed class CompressionOptionSet
{
    public Option<string?> Compress { get; } = new("--compress") { Description = "Store new files encoded: gzip, br or zstd (with the matching Content-Encoding)" };
    public Option<int?> Level { get; } = new("--compression-level") { Description = "gzip 1-9, br 0-11, zstd 1-22 (default: each format's own)" };
    public Option<string?> Skip { get; } = new("--compress-skip") { Description = "Comma-separated extensions stored as is (default: .gz,.zst,.br,.zip,.jpg,.png,.mp4 and other compressed formats)" };

    public void AddTo(Command command)
    {
        command.Options.Add(Compress);
        command.Options.Add(Level);
        command.Options.Add(Skip);
    }

    /// <exception cref="UsageException">An unknown encoding or a level out of range.</exception>
    public CompressionOptions Parse(ParseResult parse)
    {
        Codec codec;
        try
        {
            codec = parse.GetValue(Compress) is { } name ? ContentCodec.ParseName(name) : Codec.Identity;
        }
        catch (FormatException e)
        {
            throw new UsageException("--compress: " + e.Message);
        }
        int? level = parse.GetValue(Level);
        int max = codec switch { Codec.Gzip => 9, Codec.Brotli => 11, Codec.Zstd => 22, _ => int.MaxValue };
        if (level is { } l && (l < 0 || l > max))
        {
            throw new UsageException($"--compression-level {l} is out of range for {parse.GetValue(Compress)} (0-{max})");
        }
        var skip = parse.GetValue(Skip) is { } list
            ? new HashSet<string>(list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(e => e.StartsWith('.') ? e : "." + e), StringComparer.OrdinalIgnoreCase)
            : CompressionOptions.DefaultSkip;
        return new CompressionOptions { Codec = codec, Level = level, Skip = skip };
    }
}
