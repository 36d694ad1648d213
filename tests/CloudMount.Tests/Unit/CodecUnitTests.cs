using System.IO.Compression;
using CloudMount.Core.Codecs;
using CloudMount.Core.Storage;
using CloudMount.Core.Vfs;

namespace CloudMount.Tests.Unit;

/// <summary>Decoders (every byte or an error, never short data) and the peers' POSIX metadata conventions.</summary>
public sealed class CodecUnitTests
{
    private static byte[] Data(int length, int seed)
    {
        var rnd = new Random(seed);
        var text = new System.Text.StringBuilder();
        while (text.Length < length) text.Append(rnd.Next(1_000_000)).Append(',').Append(rnd.NextDouble()).Append('\n');
        return System.Text.Encoding.ASCII.GetBytes(text.ToString(0, length));
    }

    private static byte[] Gzip(byte[] data)
    {
        var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true)) gz.Write(data);
        return ms.ToArray();
    }

    private static byte[] Encode(Codec codec, byte[] data)
    {
        var ms = new MemoryStream();
        using (var s = ContentCodec.OpenEncoder(codec, ms, null)) s.Write(data);
        return ms.ToArray();
    }

    private static byte[] Decode(Codec codec, byte[] stored, int readSize = 65536)
    {
        using var d = ContentCodec.OpenDecoder(codec, new MemoryStream(stored));
        var output = new MemoryStream();
        var buf = new byte[readSize];
        int n;
        while ((n = d.Read(buf, 0, buf.Length)) > 0) output.Write(buf, 0, n);
        return output.ToArray();
    }

    [Test]
    public void Gzip_of_many_members_decodes_whole()
    {
        var parts = new[] { Data(1_000_000, 1), Data(0, 2), Data(65_280, 3), Data(3, 4), Data(2_500_000, 5) };
        byte[] stored = parts.SelectMany(Gzip).ToArray();
        byte[] want = parts.SelectMany(p => p).ToArray();
        Assert.That(Decode(Codec.Gzip, stored), Is.EqualTo(want));
        Assert.That(Decode(Codec.Gzip, stored, readSize: 777), Is.EqualTo(want), "small reads");
    }

    [Test]
    public void Gzip_header_with_name_extra_comment_and_header_crc_is_skipped()
    {
        byte[] data = Data(10_000, 6);
        byte[] plain = Gzip(data);
        // Rebuild the header with FEXTRA, FNAME, FCOMMENT and FHCRC set; the deflate data and trailer stay.
        var header = new List<byte> { 0x1f, 0x8b, 8, 0x04 | 0x08 | 0x10 | 0x02, 0, 0, 0, 0, 0, 3 };
        header.AddRange([4, 0, (byte)'a', (byte)'b', 2, 0]);
        header.AddRange("name.csv\0"u8.ToArray());
        header.AddRange("comment\0"u8.ToArray());
        header.AddRange([0x12, 0x34]);
        byte[] stored = header.Concat(plain.Skip(10)).ToArray();
        Assert.That(Decode(Codec.Gzip, stored), Is.EqualTo(data));
    }

    [TestCase(Codec.Gzip)]
    [TestCase(Codec.Brotli)]
    [TestCase(Codec.Zstd)]
    public void A_stream_cut_anywhere_fails_instead_of_ending_short(Codec codec)
    {
        byte[] data = Data(300_000, 7);
        byte[] stored = codec == Codec.Gzip ? Gzip(data).Concat(Gzip(data)).ToArray() : Encode(codec, data);
        Assert.That(Decode(codec, stored), Has.Length.EqualTo(codec == Codec.Gzip ? 2 * data.Length : data.Length));
        int whole = stored.Length;
        // (For gzip, cutting exactly half leaves one whole member, a valid stream; one byte either side does not.)
        foreach (int cut in new[] { 1, 2, 4, 5, 8, 9, 100, 5000, whole / 2 - 1, whole / 2 + 1, whole / 2 + 18, whole - 10 })
        {
            byte[] truncated = stored[..(whole - cut)];
            Assert.Throws<InvalidDataException>(() => Decode(codec, truncated), $"{codec} cut by {cut} bytes");
        }
    }

    [TestCase(Codec.Gzip)]
    [TestCase(Codec.Brotli)]
    [TestCase(Codec.Zstd)]
    public void Trailing_garbage_and_flipped_bytes_fail(Codec codec)
    {
        byte[] data = Data(200_000, 8);
        byte[] stored = Encode(codec, data);
        Assert.Throws<InvalidDataException>(() => Decode(codec, stored.Concat("garbage"u8.ToArray()).ToArray()), "trailing data");
        byte[] flipped = (byte[])stored.Clone();
        flipped[stored.Length / 2] ^= 0x5a;
        // Flipping a byte in the middle either breaks the stream or its checksum; it never yields the original.
        try
        {
            byte[] got = Decode(codec, flipped);
            Assert.That(got, Is.Not.EqualTo(data));
            Assert.That(codec, Is.EqualTo(Codec.Brotli), "gzip (CRC-32) and zstd (our frames carry a checksum) must fail");
        }
        catch (InvalidDataException)
        {
        }
        if (codec == Codec.Gzip)
        {
            byte[] badCrc = (byte[])stored.Clone();
            badCrc[^6] ^= 1;
            Assert.Throws<InvalidDataException>(() => Decode(codec, badCrc), "wrong CRC-32 in the trailer");
        }
    }

    [Test]
    public void An_empty_gzip_object_is_invalid_but_an_empty_member_decodes_to_nothing()
    {
        Assert.Throws<InvalidDataException>(() => Decode(Codec.Gzip, []));
        // What `printf '' | gzip -n` writes: a header, an empty final block, CRC-32 0 and ISIZE 0.
        byte[] emptyMember = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        Assert.That(Decode(Codec.Gzip, emptyMember), Is.Empty);
        Assert.That(Decode(Codec.Gzip, [.. emptyMember, .. Gzip("x"u8.ToArray())]), Is.EqualTo("x"u8.ToArray()));
    }

    [TestCase("1700000000", 1700000000L, 0u)]
    [TestCase("1700000000.5", 1700000000L, 500_000_000u)]
    [TestCase("1700000000.123456789", 1700000000L, 123_456_789u)]
    public void Mtime_in_rclone_and_s3fs_spelling_keeps_nanoseconds(string text, long seconds, uint nanos)
    {
        var md = PosixMetadata.Parse(new Dictionary<string, string> { ["mtime"] = text });
        Assert.That(md.Mtime, Is.EqualTo(new PosixTime(seconds, nanos)));
        Assert.That(PosixMetadata.FormatTime(md.Mtime!.Value), Is.EqualTo(nanos == 0 ? text : $"{seconds}.{nanos:D9}"));
    }

    [Test]
    public void Mode_is_decimal_as_s3fs_writes_it_or_octal_as_rclone_does_and_garbage_is_ignored()
    {
        Assert.That(PosixMetadata.Parse(new Dictionary<string, string> { ["mode"] = "33188" }).Mode, Is.EqualTo(0x81A4u), "s3fs 0100644");
        Assert.That(PosixMetadata.Parse(new Dictionary<string, string> { ["mode"] = "41471" }).IsSymlink, Is.True, "s3fs symlink 0120777");
        Assert.That(PosixMetadata.Parse(new Dictionary<string, string> { ["mode"] = "100644" }).Mode, Is.EqualTo(0x81A4u), "octal spelling");
        var bad = PosixMetadata.Parse(new Dictionary<string, string> { ["mode"] = "rwx", ["mtime"] = "yesterday", ["uid"] = "-1", ["gid"] = "1000" });
        Assert.That((bad.Mode, bad.Mtime, bad.Uid, bad.Gid), Is.EqualTo(((uint?)null, (PosixTime?)null, (uint?)null, (uint?)1000u)));
    }

    [Test]
    public void Written_fields_read_back_the_same()
    {
        var t = DateTimeOffset.FromUnixTimeSeconds(1_650_000_000).AddTicks(4_200_000);
        var md = new PosixMetadata(t, 0x81EDu, 1000, 100);
        var dict = new Dictionary<string, string>();
        md.WriteTo(dict);
        Assert.That(dict, Is.EquivalentTo(new Dictionary<string, string>
        {
            ["mtime"] = "1650000000.420000000", ["mode"] = "33261", ["uid"] = "1000", ["gid"] = "100",
        }));
        Assert.That(PosixMetadata.Parse(dict), Is.EqualTo(md));
    }

    [Test]
    public void A_head_describes_a_listed_version_only_with_the_same_etag_and_nearly_the_same_time()
    {
        var t = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000);
        var listed = new ChildEntry(NodeKind.File, 10, "\"abc\"", t.AddMilliseconds(400));
        Assert.That(listed.Matches(new ObjectInfo("k", 10, "\"abc\"", t)), Is.True);
        Assert.That(listed.Matches(new ObjectInfo("k", 10, "\"abd\"", t)), Is.False, "other ETag");
        Assert.That(listed.Matches(new ObjectInfo("k", 10, "\"abc\"", t.AddSeconds(-1))), Is.True, "our own upload's time may be a second off the listing's");
        Assert.That(listed.Matches(new ObjectInfo("k", 10, "\"abc\"", t.AddSeconds(3))), Is.False, "metadata changed: Last-Modified moved");
    }
}
