using CloudMount.Core.Reading;
using CloudMount.Core.Storage;
using CloudMount.Core.Writing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CloudMount.Core.Vfs;

/// <summary>
/// The filesystem view of an object store, free of any platform's types: inode-based operations in the shape
/// of FUSE's lowlevel API (lookup, forget, getattr, readdir, open, read, write, flush, release, ...), taking and
/// returning plain .NET values and throwing <see cref="FileSystemException"/> (or store errors, which
/// <see cref="FileSystemException.Classify"/> maps) for the adapter to turn into errno / NTSTATUS.
/// </summary>
/// <remarks>
/// <para>This type is a thin façade over parts that each own one invariant (see DESIGN.md): the
/// <see cref="InodeTable"/> (numbers, lookup counts, the one rule for dropping an inode), the
/// <see cref="DirectoryViews"/> (listings as immutable snapshots, local changes winning over older answers),
/// <see cref="NodeLookup"/> (lookup, getattr), <see cref="OpenFiles"/> and <see cref="ReadSources"/> (handles,
/// reads), <see cref="WriteBack"/> and <see cref="Uploads"/> (staging, crash-safe records, uploads),
/// <see cref="NamespaceOps"/> and <see cref="RenameOps"/> (names), <see cref="AttributeOps"/> and
/// <see cref="Xattrs"/> (attributes, metadata).</para>
/// <para>Locking: the table's lock is a leaf lock over all inode fields, never held across an await; each inode's
/// gate serialises the namespace and write operations on it, several taken in inode order
/// (<see cref="InodeGates"/>).</para>
/// </remarks>
public sealed class CloudFileSystem : IAsyncDisposable
{
    /// <summary>The root's inode number (FUSE_ROOT_ID).</summary>
    public const ulong RootIno = InodeTable.RootIno;

    /// <summary>Prefix of the extended attributes that show user metadata: <c>user.NAME</c> is metadata <c>NAME</c>.</summary>
    public const string UserXattrPrefix = Xattrs.UserPrefix;

    /// <summary>Prefix of CloudMount's read-only attributes (Content-Type, Content-Encoding, ETag, storage class).</summary>
    public const string InfoXattrPrefix = Xattrs.InfoPrefix;

    private readonly VfsContext _ctx;
    private readonly NodeLookup _lookup;
    private readonly OpenFiles _files;
    private readonly DirectoryReads _dirs;
    private readonly WriteBack _writeBack;
    private readonly Uploads _uploads;
    private readonly NamespaceOps _names;
    private readonly RenameOps _renames;
    private readonly AttributeOps _attributes;
    private readonly Xattrs _xattrs;
    private int _disposed;

    /// <summary>Creates the view. Nothing is requested from the store until the first operation.</summary>
    /// <param name="store">The (decorated) store.</param>
    /// <param name="options">Mount settings.</param>
    /// <param name="logger">Receives upload failures and skipped keys.</param>
    /// <param name="time">Clock for TTLs; <c>null</c> for the system clock.</param>
    /// <exception cref="ArgumentException">The root prefix is neither empty nor ends in '/'.</exception>
    /// <exception cref="IOException">The staging folder cannot be created or is locked by another mount.</exception>
    public CloudFileSystem(IObjectStore store, VfsOptions options, ILogger? logger = null, TimeProvider? time = null)
    {
        if (options.RootPrefix.Length > 0 && !options.RootPrefix.EndsWith('/'))
        {
            throw new ArgumentException("RootPrefix must be empty or end with '/'", nameof(options));
        }
        _ctx = new VfsContext(store, options, logger ?? NullLogger.Instance, time ?? TimeProvider.System);
        _lookup = new NodeLookup(_ctx);
        _uploads = new Uploads(_ctx);
        _writeBack = new WriteBack(_ctx, _uploads);
        _files = new OpenFiles(_ctx, _lookup, _writeBack, _uploads, new ReadSources(_ctx, _lookup));
        _dirs = new DirectoryReads(_ctx, _files);
        _names = new NamespaceOps(_ctx, _lookup, _writeBack, _files);
        _renames = new RenameOps(_ctx, _names, _writeBack, _uploads);
        _attributes = new AttributeOps(_ctx, _lookup, _writeBack, _uploads);
        _xattrs = new Xattrs(_ctx, _lookup, _attributes);
    }

    /// <summary>The mount's options.</summary>
    public VfsOptions Options => _ctx.Options;

    /// <summary>Seconds the kernel may cache attributes and entries.</summary>
    public double AttrTimeoutSeconds => _ctx.AttrTimeoutSeconds;

    /// <summary>Seconds the kernel may cache a negative lookup.</summary>
    public double NegativeTimeoutSeconds => _ctx.Options.NegativeTtl.TotalSeconds;

    /// <summary>
    /// Set by the adapter: tells the kernel an inode's attributes changed (its size, once a decoded size is
    /// known), so the next stat or read asks again.
    /// </summary>
    public Action<ulong>? InvalidateKernelAttributes
    {
        get => _ctx.InvalidateKernelAttributes;
        set => _ctx.InvalidateKernelAttributes = value;
    }

    /// <summary>Inodes currently known (for tests: forget must bring this back down).</summary>
    public int InodeCount => _ctx.Table.Count;

    /// <summary>Open file handles (for tests: release must bring this back down).</summary>
    public int OpenHandleCount => _files.Count;

    // ------------------------------------------------------------------ names and attributes

    /// <summary>Looks up <paramref name="name"/> in directory <paramref name="parent"/> and takes one lookup reference on it.</summary>
    /// <exception cref="FileSystemException">NotFound (a negative entry the kernel may cache for <see cref="NegativeTimeoutSeconds"/>), NotDirectory, NameTooLong.</exception>
    public ValueTask<EntryReply> LookupAsync(ulong parent, string name, CancellationToken cancellationToken) =>
        _lookup.LookupAsync(parent, name, cancellationToken);

    /// <summary>Drops <paramref name="count"/> lookup references; at zero the inode is forgotten unless something else holds it.</summary>
    public void Forget(ulong ino, ulong count) => _ctx.Table.Forget(ino, count);

    /// <summary>Returns attributes, asking the store (HEAD) when a closed file's cached attributes have expired.</summary>
    /// <exception cref="FileSystemException">NotFound when the object is gone.</exception>
    public ValueTask<NodeAttributes> GetAttrAsync(ulong ino, CancellationToken cancellationToken) =>
        _lookup.GetAttrAsync(ino, cancellationToken);

    /// <summary>Changes attributes (see <see cref="AttributeOps.SetAttrAsync"/>); <paramref name="fh"/> is informational.</summary>
    /// <exception cref="FileSystemException">ReadOnly, IsDirectory, InvalidArgument, FileTooLarge, NoSpace, Io.</exception>
    public ValueTask<NodeAttributes> SetAttrAsync(ulong ino, SetAttributes changes, ulong? fh, CancellationToken cancellationToken) =>
        _attributes.SetAttrAsync(ino, changes, cancellationToken);

    /// <summary>Totals for statfs: object stores have no fixed capacity, so these are large constants.</summary>
    public static FsStatistics StatFs() => new(4096, 1UL << 38, 1UL << 38, 1UL << 32, 1UL << 32, KeyNames.NameMax);

    // ------------------------------------------------------------------ files

    /// <summary>Opens a file (close-to-open: the current version, pinned by ETag for the handle's reads).</summary>
    /// <exception cref="FileSystemException">IsDirectory, ReadOnly, NotFound, NoSpace.</exception>
    public ValueTask<OpenReply> OpenAsync(ulong ino, OpenFlags flags, CancellationToken cancellationToken) =>
        _files.OpenAsync(ino, flags, cancellationToken);

    /// <summary>Creates and opens a new, empty file; it exists locally until its first flush uploads it.</summary>
    /// <exception cref="FileSystemException">ReadOnly, NotDirectory, NameTooLong, Exists (with O_EXCL), IsDirectory, NoSpace.</exception>
    public ValueTask<(EntryReply Entry, OpenReply Open)> CreateAsync(ulong parent, string name, OpenFlags flags, CancellationToken cancellationToken) =>
        _names.CreateAsync(parent, name, flags, cancellationToken);

    /// <summary>Reads up to <c>destination.Length</c> bytes at <paramref name="offset"/>, copying them (see <see cref="LeaseAsync"/>).</summary>
    /// <returns>Bytes read; fewer than asked only at the end of the file.</returns>
    /// <exception cref="FileSystemException">BadHandle.</exception>
    /// <exception cref="PreconditionFailedException">The object changed since open (ESTALE).</exception>
    public async ValueTask<int> ReadAsync(ulong fh, long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        using var lease = await LeaseAsync(fh, offset, destination.Length, cancellationToken).ConfigureAwait(false);
        return lease.CopyTo(destination.Span);
    }

    /// <summary>Reads up to <paramref name="count"/> bytes at <paramref name="offset"/> as a lease of pooled buffers; dispose it after replying.</summary>
    /// <exception cref="FileSystemException">BadHandle.</exception>
    /// <exception cref="PreconditionFailedException">The object changed since open (ESTALE).</exception>
    public ValueTask<ReadLease> LeaseAsync(ulong fh, long offset, int count, CancellationToken cancellationToken) =>
        _files.LeaseAsync(fh, offset, count, cancellationToken);

    /// <summary>Writes into the staging file.</summary>
    /// <returns>Bytes written (all of them).</returns>
    /// <exception cref="FileSystemException">BadHandle when not opened for writing; NoSpace, Io (the file is then failed), FileTooLarge.</exception>
    public ValueTask<int> WriteAsync(ulong fh, long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken) =>
        _files.WriteAsync(fh, offset, data, cancellationToken);

    /// <summary>close() of a descriptor: uploads the file if it has changes; the failure is what close() returns.</summary>
    /// <exception cref="FileSystemException">Io when the upload failed (the data is kept); the error of a failed write.</exception>
    public ValueTask FlushAsync(ulong fh, CancellationToken cancellationToken) => _files.FlushAsync(fh, cancellationToken);

    /// <summary>fsync: uploads whatever changed, empty files included.</summary>
    /// <exception cref="FileSystemException">Io when the upload failed; the error of a failed write.</exception>
    public ValueTask FsyncAsync(ulong fh, CancellationToken cancellationToken) => _files.FsyncAsync(fh, cancellationToken);

    /// <summary>The last close of a handle: stops its read-ahead and settles its staging state.</summary>
    public ValueTask ReleaseAsync(ulong fh) => _files.ReleaseAsync(fh);

    // ------------------------------------------------------------------ directories and names

    /// <summary>Opens a directory for readdir.</summary>
    /// <returns>The directory handle.</returns>
    /// <exception cref="FileSystemException">NotDirectory.</exception>
    public ulong OpenDir(ulong ino) => _dirs.OpenDir(ino);

    /// <summary>Closes a directory handle.</summary>
    public void ReleaseDir(ulong fh) => _dirs.ReleaseDir(fh);

    /// <summary>Fills a readdir reply from <paramref name="offset"/> (see <see cref="DirectoryReads.ReadDirAsync"/>).</summary>
    /// <exception cref="FileSystemException">BadHandle for an unknown handle.</exception>
    public ValueTask ReadDirAsync(ulong ino, ulong fh, long offset, bool plus, DirectoryFiller filler, CancellationToken cancellationToken) =>
        _dirs.ReadDirAsync(ino, fh, offset, plus, filler, cancellationToken);

    /// <summary>Creates a directory by writing the zero-byte marker <c>name/</c>.</summary>
    /// <exception cref="FileSystemException">ReadOnly, Exists, NotDirectory, NameTooLong.</exception>
    public ValueTask<EntryReply> MkdirAsync(ulong parent, string name, CancellationToken cancellationToken) =>
        _names.MkdirAsync(parent, name, cancellationToken);

    /// <summary>Removes a file: deletes its object (a file never uploaded is only dropped locally).</summary>
    /// <exception cref="FileSystemException">ReadOnly, NotFound, IsDirectory.</exception>
    public ValueTask UnlinkAsync(ulong parent, string name, CancellationToken cancellationToken) =>
        _names.UnlinkAsync(parent, name, cancellationToken);

    /// <summary>Removes an empty directory: deletes its marker, if any.</summary>
    /// <exception cref="FileSystemException">ReadOnly, NotFound, NotDirectory, NotEmpty.</exception>
    public ValueTask RmdirAsync(ulong parent, string name, CancellationToken cancellationToken) =>
        _names.RmdirAsync(parent, name, cancellationToken);

    /// <summary>Renames a file or a directory (see <see cref="RenameOps"/>).</summary>
    /// <exception cref="FileSystemException">ReadOnly, NotFound, IsDirectory, NotDirectory, NotEmpty, Exists (NoReplace), InvalidArgument (Exchange, or a directory into itself), Io (a copy or delete failed).</exception>
    public ValueTask RenameAsync(ulong parent, string name, ulong newParent, string newName, RenameFlags flags, CancellationToken cancellationToken) =>
        _renames.RenameAsync(parent, name, newParent, newName, flags, cancellationToken);

    /// <summary>Creates a symbolic link the way s3fs stores one, uploaded at once.</summary>
    /// <exception cref="FileSystemException">ReadOnly, Exists, NameTooLong, NotSupported (a store without metadata).</exception>
    public ValueTask<EntryReply> SymlinkAsync(ulong parent, string name, string target, CancellationToken cancellationToken) =>
        _names.SymlinkAsync(parent, name, target, cancellationToken);

    /// <summary>The target of a symbolic link.</summary>
    /// <exception cref="FileSystemException">InvalidArgument when the node is not a symlink.</exception>
    public ValueTask<string> ReadLinkAsync(ulong ino, CancellationToken cancellationToken) => _names.ReadLinkAsync(ino, cancellationToken);

    // ------------------------------------------------------------------ extended attributes

    /// <summary>The extended attributes of a node (see <see cref="Xattrs.ListAsync"/>).</summary>
    public ValueTask<List<KeyValuePair<string, string>>> ListXattrAsync(ulong ino, CancellationToken cancellationToken) =>
        _xattrs.ListAsync(ino, cancellationToken);

    /// <summary>One extended attribute's value (UTF-8 bytes of the metadata value).</summary>
    /// <exception cref="FileSystemException">NoData when the node has no such attribute.</exception>
    public ValueTask<byte[]> GetXattrAsync(ulong ino, string name, CancellationToken cancellationToken) =>
        _xattrs.GetAsync(ino, name, cancellationToken);

    /// <summary>Sets <c>user.NAME</c> (see <see cref="Xattrs.SetAsync"/>).</summary>
    /// <exception cref="FileSystemException">NotSupported, NotPermitted, InvalidArgument, Exists, NoData, ReadOnly.</exception>
    public ValueTask SetXattrAsync(ulong ino, string name, ReadOnlyMemory<byte> value, bool mustCreate, bool mustReplace, CancellationToken cancellationToken) =>
        _xattrs.SetAsync(ino, name, value, mustCreate, mustReplace, cancellationToken);

    /// <summary>Removes <c>user.NAME</c>.</summary>
    /// <exception cref="FileSystemException">NoData when there is no such attribute; otherwise as <see cref="SetXattrAsync"/>.</exception>
    public ValueTask RemoveXattrAsync(ulong ino, string name, CancellationToken cancellationToken) =>
        _xattrs.RemoveAsync(ino, name, cancellationToken);

    // ------------------------------------------------------------------ unmount

    /// <summary>
    /// At unmount: stops read-ahead, and settles every file with staged data — waiting (at most
    /// <see cref="VfsOptions.UnmountUploadTimeout"/> in all) for uploads in progress, uploading dirty files once
    /// more, and leaving what still did not upload with its record for the next mount. Then releases the staging
    /// folder.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await _files.DisposeAsync().ConfigureAwait(false);
        using var deadline = new CancellationTokenSource(_ctx.Options.UnmountUploadTimeout);
        foreach (var n in _ctx.Table.WithWriteBack())
        {
            await SettleAsync(n, deadline.Token).ConfigureAwait(false);
        }
        _ctx.Staging.Dispose();
        _ctx.Views.Dispose();
    }

    private async Task SettleAsync(Inode n, CancellationToken deadline)
    {
        string key = _ctx.Table.Key(n);
        InodeGates.Held? gate = null;
        try
        {
            gate = await InodeGates.EnterAsync(n, deadline).ConfigureAwait(false);
            if (n.Write is { } w)
            {
                if (w.Dirty && w.WriteFailure is null && !n.Detached)
                {
                    await _uploads.UploadLockedAsync(n, w, deadline).ConfigureAwait(false);
                }
                lock (_ctx.Table.Sync) n.OpenCount = 0;
                await _writeBack.TeardownIfIdleLockedAsync(n, w).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is FileSystemException or OperationCanceledException)
        {
            // Its record stays: the next mount of this store uploads it.
        }
        finally
        {
            gate?.Dispose();
        }
        if (n.Write is { } kept)
        {
            if (kept.Session is { } session)
            {
                kept.Session = null;
                await session.AbortAsync().ConfigureAwait(false);
            }
            _ctx.Logger.LogError("unmounting with {Key} not uploaded; its data is kept in {Path} and the next mount of {Store} uploads it", key, kept.File.Path, _ctx.Store.Name);
            StagingIo.TryRun(() => kept.File.Close(delete: false));
        }
    }
}
