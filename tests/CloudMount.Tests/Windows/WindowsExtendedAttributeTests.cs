using System.Text;
using CloudMount.Core.Storage;
using CloudMount.Core.Vfs;
using CloudMount.Windows;
using static CloudMount.Windows.Interop.WinConstants;

namespace CloudMount.Tests.Windows;

/// <summary>Windows extended attributes are the object's metadata (mem://: file:// keeps none).</summary>
public sealed class WindowsExtendedAttributeTests
{
    [Test]
    public async Task GetEa_lists_metadata_and_SetEa_changes_it_in_the_store()
    {
        await using var h = new WinFsHarness("mem");
        await h.Store.WriteAsync("pic.jpg", ObjectContent.FromBytes(Encoding.UTF8.GetBytes("jpeg")),
            ObjectWriteOptions.Default with { Metadata = new Dictionary<string, string> { ["color"] = "blue" } }, CancellationToken.None);
        var (_, ctx, _) = await h.CreateFileAsync(@"\pic.jpg", FileOpen, WinFsHarness.WriteAccess | FileReadEa | FileWriteEa);

        var buffer = new byte[4096];
        var got = await h.Adapter.GetEaAsync(ctx, buffer);
        Assert.That(got.Status, Is.EqualTo(NtStatus.Success));
        var eas = EaBuffer.Parse(buffer.AsSpan(0, got.Value)).ToDictionary(e => e.Name, e => Encoding.UTF8.GetString(e.Value));
        Assert.That(eas["color"], Is.EqualTo("blue"));
        Assert.That(eas.ContainsKey("cloudmount.etag"), Is.True);
        Assert.That((await h.Adapter.GetEaAsync(ctx, new byte[10])).Status, Is.EqualTo(NtStatus.BufferOverflow));

        var list = new byte[256];
        Assert.That(EaBuffer.TryPack([("SHAPE", Encoding.UTF8.GetBytes("round")), ("color", [])], list, out int used), Is.True);
        var set = await h.Adapter.SetEaAsync(ctx, list.AsMemory(0, used));
        Assert.That(set.Status, Is.EqualTo(NtStatus.Success));
        await h.CloseHandleAsync(ctx);

        var head = await h.HeadAsync("pic.jpg");
        Assert.That(head!.Metadata, Does.ContainKey("shape").WithValue("round"));
        Assert.That(head.Metadata!.ContainsKey("color"), Is.False);
        Assert.That(await h.GetTextAsync("pic.jpg"), Is.EqualTo("jpeg"), "the bytes are untouched");
        Assert.That(EaBuffer.TryPack([("cloudmount.etag", Encoding.UTF8.GetBytes("x"))], list, out used), Is.True);
        var (_, ctx2, _) = await h.CreateFileAsync(@"\pic.jpg", FileOpen, WinFsHarness.WriteAccess);
        Assert.That((await h.Adapter.SetEaAsync(ctx2, list.AsMemory(0, used))).Status, Is.EqualTo(NtStatus.AccessDenied), "CloudMount's own attributes are read-only");
        await h.CloseHandleAsync(ctx2);
    }

    [Test]
    public void Ea_lists_pack_as_FspFileSystemAddEa_does()
    {
        var buffer = new byte[64];
        Assert.That(EaBuffer.TryPack([("A", [1, 2, 3]), ("BC", [])], buffer, out int used), Is.True);
        // "A": 8 + 1 + 1 + 3 = 13 bytes, next at 16; "BC": 8 + 2 + 1 = 11 bytes, last (NextEntryOffset 0).
        Assert.That(used, Is.EqualTo(16 + 11));
        Assert.That(BitConverter.ToUInt32(buffer, 0), Is.EqualTo(16u));
        Assert.That(buffer[5], Is.EqualTo(1));
        Assert.That(BitConverter.ToUInt16(buffer, 6), Is.EqualTo(3));
        Assert.That(BitConverter.ToUInt32(buffer, 16), Is.Zero);
        Assert.That(EaBuffer.Parse(buffer.AsSpan(0, used)).Select(e => e.Name), Is.EqualTo(new[] { "A", "BC" }));
        Assert.That(EaBuffer.TryPack([("A", new byte[100])], buffer, out _), Is.False);
    }

    [Test]
    public void No_xattrs_turns_extended_attributes_off()
    {
        var on = VolumeParameters.For(new VfsOptions(), DateTimeOffset.UnixEpoch, extendedAttributes: true);
        var off = VolumeParameters.For(new VfsOptions(), DateTimeOffset.UnixEpoch, extendedAttributes: false);
        Assert.That(on.Flags & CloudMount.Windows.Interop.FspVolumeFlags.ExtendedAttributes, Is.Not.Zero);
        Assert.That(off.Flags & CloudMount.Windows.Interop.FspVolumeFlags.ExtendedAttributes, Is.Zero);
    }
}
