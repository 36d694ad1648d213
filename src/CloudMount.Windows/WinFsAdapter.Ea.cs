using CloudMount.Core.Vfs;
using CloudMount.Windows.Interop;

namespace CloudMount.Windows;

/// <summary>
/// GetEa and SetEa: Windows extended attributes over the Vfs's extended attributes, which are the object's
/// metadata. The EA <c>NAME</c> is <c>user.NAME</c> (metadata <c>NAME</c>, stored lower-case as S3 does); the
/// read-only <c>cloudmount.content-type</c>, <c>.content-encoding</c>, <c>.etag</c> and <c>.storage-class</c> show
/// as EAs of those names. Setting a value of length 0 removes the EA (the Windows rule). EAs given with a create
/// are not kept (objects are created at the first upload).
/// </summary>
internal sealed partial class WinFsAdapter
{
    /// <summary>GetEa: every EA of the file, packed into <paramref name="buffer"/>; STATUS_BUFFER_OVERFLOW when they do not fit.</summary>
    public ValueTask<NtResult<int>> GetEaAsync(ulong context, Memory<byte> buffer) =>
        Run("GetEa", async ct =>
        {
            var h = Handle(context);
            var all = await _fs.ListXattrAsync(h.Node.Ino, ct).ConfigureAwait(false);
            var entries = new List<(string, byte[])>();
            foreach (var (k, v) in all)
            {
                string name = k.StartsWith(CloudFileSystem.UserXattrPrefix, StringComparison.Ordinal) ? k[CloudFileSystem.UserXattrPrefix.Length..] : k;
                byte[] value = System.Text.Encoding.UTF8.GetBytes(v);
                if (EaBuffer.IsEaName(name) && value.Length <= ushort.MaxValue) entries.Add((name, value));
            }
            return EaBuffer.TryPack(entries, buffer.Span, out int used) ? used : throw new NtStatusException(NtStatus.BufferOverflow, "extended attributes do not fit");
        });

    /// <summary>SetEa: sets (or, with an empty value, removes) each EA of the list, then answers the file's info.</summary>
    public ValueTask<NtResult<FspFileInfo>> SetEaAsync(ulong context, ReadOnlyMemory<byte> eaList) =>
        Run("SetEa", async ct =>
        {
            var h = Handle(context);
            foreach (var (name, value) in EaBuffer.Parse(eaList.Span))
            {
                string xattr = CloudFileSystem.UserXattrPrefix + name.ToLowerInvariant();
                if (value.Length == 0)
                {
                    try
                    {
                        await _fs.RemoveXattrAsync(h.Node.Ino, xattr, ct).ConfigureAwait(false);
                    }
                    catch (FileSystemException e) when (e.Error == FsError.NoData)
                    {
                        // removing an EA that is not there is no error on Windows
                    }
                }
                else
                {
                    await _fs.SetXattrAsync(h.Node.Ino, xattr, value, false, false, ct).ConfigureAwait(false);
                }
            }
            return await InfoAsync(h.Node, ct).ConfigureAwait(false);
        });
}
