using CloudMount.Core.Reading;
using CloudMount.Core.Storage;

namespace CloudMount.Core.Vfs;

/// <summary>Where an open file's reads come from, decided at open.</summary>
/// <param name="Reader">Read-ahead already started (it answered the encoding question), or <c>null</c> to start one at the first read.</param>
/// <param name="Decoded">An encoded object's decoded copy, which reads come from instead.</param>
/// <param name="DirectIo">The kernel must not cache pages (the size is not certain).</param>
internal readonly record struct ReadSource(Prefetcher? Reader, Codecs.DecodedCopy? Decoded, bool DirectIo);

/// <summary>
/// Decides how an opened file is read. With decoding on, an object whose encoding is not yet known is found out
/// before the kernel reads: from the disk cache's record, else from the answer to the first range GET (the
/// request the first read needs anyway, so a plain object costs nothing more). An encoded object is then read
/// from its decoded copy, and the kernel is told its decoded size, or reads it as a stream (direct I/O) when no
/// size can be known up front.
/// </summary>
internal sealed class ReadSources(VfsContext ctx, NodeLookup lookup)
{
    private InodeTable Table => ctx.Table;

    /// <summary>The read source of a file being opened.</summary>
    public async Task<ReadSource> PrepareAsync(Inode n, CancellationToken ct)
    {
        if (ctx.Options.Decoding is not { } decoding) return default;
        string key;
        string? etag;
        long size;
        Codecs.Codec? codec;
        lock (Table.Sync)
        {
            if (n.HasLocalState || n.Detached) return default;
            key = Table.KeyLocked(n);
            etag = n.ETag;
            size = n.Size;
            codec = n.EncodingETag == etag ? n.Encoding : null;
        }
        if (etag is null || size == 0) return default;
        if (codec is null && ctx.Options.Caches?.Disk is { } disk && disk.TryGetEncoding(new Caching.ObjectVersion(ctx.Store.Name, key, etag, size), out var cached))
        {
            codec = Codecs.ContentCodec.Parse(cached);
        }
        Prefetcher? probe = null;
        ObjectInfo? stored = null;
        if (codec is null)
        {
            probe = new Prefetcher(ctx.Store, () => Table.Key(n), etag, size, ctx.Options.ReadAhead, ctx.Logger, ctx.Options.Caches);
            try
            {
                stored = await probe.StartAsync(ct).ConfigureAwait(false);
            }
            catch
            {
                await probe.DisposeAsync().ConfigureAwait(false);
                throw;
            }
            codec = stored is null ? Codecs.Codec.Identity : Codecs.ContentCodec.Parse(stored.ContentEncoding);
            if (stored is not null) lookup.LearnFromRead(n, stored);
        }
        lock (Table.Sync)
        {
            if (n.ETag == etag)
            {
                n.Encoding = codec;
                n.EncodingETag = etag;
            }
        }
        if (codec == Codecs.Codec.Identity) return new ReadSource(probe, null, false);

        if (probe is not null) await probe.DisposeAsync().ConfigureAwait(false);
        stored ??= await ctx.Store.HeadAsync(key, ct).ConfigureAwait(false) ?? throw VfsContext.NotFound(n.Name);
        var copy = decoding.Acquire(stored);
        try
        {
            long? decodedSize = await copy.SizeHint.WaitAsync(ct).ConfigureAwait(false);
            SetDecodedSize(n, etag, decodedSize);
        }
        catch
        {
            decoding.Release(copy);
            throw;
        }
        // A pass that ends at another size (a multi-member gzip, several zstd frames) corrects it.
        _ = copy.Completion.ContinueWith(t => SetDecodedSize(n, etag, t.Result), CancellationToken.None,
            TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
        // The kernel's page cache ends a file at its size, so only a size known for certain may bound reads: the
        // metadata CloudMount wrote, or a finished decode. A gzip ISIZE or a zstd frame header describes one member
        // or frame; until the decode has run to its end, the file is read as a stream (direct I/O).
        bool certain = copy.Completion.IsCompletedSuccessfully || Codecs.DecodedSizeProbe.FromMetadata(stored) is not null;
        return new ReadSource(null, copy, !certain);
    }

    /// <summary>Records an encoded object's decoded size and tells the kernel if what it showed changes.</summary>
    private void SetDecodedSize(Inode n, string etag, long? decoded)
    {
        bool changed;
        lock (Table.Sync)
        {
            if (n.ETag != etag || decoded is null || n.DecodedSize == decoded) return;
            long before = AttributeView.OfLocked(ctx, n).Size;
            n.DecodedSize = decoded;
            changed = AttributeView.OfLocked(ctx, n).Size != before;
        }
        if (changed) ctx.InvalidateKernelAttributes?.Invoke(n.Ino);
    }
}
