using System.Security.Cryptography;

namespace CloudMount.Core.Storage.Memory;

/// <summary>
/// A complete in-memory object store (<c>mem://name</c>), not a mock: S3 semantics (MD5 ETags, If-Match,
/// byte-ordered delimiter listings, atomic overwrite). Unit tests and the contract suite run on it, and a
/// mount of <c>mem://</c> is a scratch filesystem that vanishes with the process.
/// </summary>
public sealed class MemoryObjectStore : IObjectStore
{
    private readonly SortedDictionary<string, Entry> _objects = new(KeyComparer.Instance);
    private readonly Lock _lock = new();

    private sealed record Entry(ObjectInfo Info, byte[] Bytes);

    /// <summary>Creates an empty store.</summary>
    /// <param name="name">Shown in logs as <c>mem://name</c>.</param>
    /// <param name="minPartBytes">Smallest part of a multipart upload but the last (S3's 5 MiB by default).</param>
    public MemoryObjectStore(string name = "default", long minPartBytes = 5 * Bytes.MiB)
    {
        Name = $"mem://{name}";
        Multipart = new Uploads(this, minPartBytes);
    }

    /// <inheritdoc/>
    public IMultipartUploads Multipart { get; }

    /// <summary>Multipart uploads with S3's rules: parts assembled in number order at completion.</summary>
    private sealed class Uploads(MemoryObjectStore store, long minPartBytes) : IMultipartUploads
    {
        public long MinPartBytes => minPartBytes;

        public int MaxParts => 10_000;

        public Task<IMultipartUpload> StartAsync(string key, ObjectWriteOptions options, CancellationToken cancellationToken) =>
            Task.FromResult<IMultipartUpload>(new Upload(store, key, options, minPartBytes));
    }

    private sealed class Upload(MemoryObjectStore store, string key, ObjectWriteOptions options, long minPartBytes) : IMultipartUpload
    {
        private readonly System.Collections.Concurrent.ConcurrentDictionary<int, byte[]> _parts = new();

        public string Key => key;

        public async Task UploadPartAsync(int partNumber, ObjectContent content, CancellationToken cancellationToken)
        {
            var bytes = new byte[content.Length];
            await using var s = content.OpenRead();
            await s.ReadExactlyAsync(bytes, cancellationToken).ConfigureAwait(false);
            _parts[partNumber] = bytes;
        }

        public async Task<ObjectInfo> CompleteAsync(int parts, long totalBytes, CancellationToken cancellationToken)
        {
            using var all = new MemoryStream();
            for (int i = 1; i <= parts; i++)
            {
                if (!_parts.TryGetValue(i, out var p)) throw new InvalidOperationException($"part {i} of {key} was not uploaded");
                if (i < parts && p.Length < minPartBytes) throw new ObjectStoreException($"part {i} of {key} is smaller than {minPartBytes} bytes");
                all.Write(p);
            }
            var info = await store.WriteAsync(key, ObjectContent.FromBytes(all.ToArray()), options, cancellationToken).ConfigureAwait(false);
            // Multipart ETags are not the MD5 of the content (S3: MD5 of the parts' MD5s, "-N").
            info = info with { ETag = $"\"{Guid.NewGuid():n}-{parts}\"" };
            lock (store._lock)
            {
                store._objects[key] = store._objects[key] with { Info = info };
            }
            return info;
        }

        public Task AbortAsync(CancellationToken cancellationToken)
        {
            _parts.Clear();
            return Task.CompletedTask;
        }
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public StoreCapabilities Capabilities { get; } = new() { Md5ETags = true };

    /// <inheritdoc/>
    public Task<ListPage> ListAsync(ListRequest request, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return Task.FromResult(ListingBuilder.Build(_objects.Values.Select(e => e.Info), request));
        }
    }

    /// <inheritdoc/>
    public Task<ObjectInfo?> HeadAsync(string key, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return Task.FromResult(_objects.TryGetValue(key, out var e) ? e.Info : null);
        }
    }

    /// <inheritdoc/>
    public Task<ObjectReadResult> ReadAsync(string key, ByteRange range, string? ifMatch, CancellationToken cancellationToken)
    {
        Entry e;
        lock (_lock)
        {
            if (!_objects.TryGetValue(key, out e!))
            {
                throw new ObjectNotFoundException(key);
            }
        }
        if (ifMatch is not null && ifMatch != e.Info.ETag)
        {
            throw new PreconditionFailedException(key, ifMatch);
        }
        var r = range.ClampTo(e.Bytes.Length);
        Stream s = new ReadOnlyMemoryStream(e.Bytes.AsMemory((int)r.Offset, (int)r.Length!.Value));
        return Task.FromResult(new ObjectReadResult(s, e.Info, r));
    }

    /// <inheritdoc/>
    public async Task<ObjectInfo> WriteAsync(string key, ObjectContent content, ObjectWriteOptions options, CancellationToken cancellationToken)
    {
        var bytes = new byte[content.Length];
        await using (var s = content.OpenRead())
        {
            await s.ReadExactlyAsync(bytes, cancellationToken).ConfigureAwait(false);
        }
        byte[] md5 = MD5.HashData(bytes);
        if (options.ContentMd5 is { } expected && !expected.AsSpan().SequenceEqual(md5))
        {
            throw new ChecksumMismatchException($"Content-MD5 mismatch writing {key}");
        }
        var info = new ObjectInfo(key, bytes.Length, $"\"{Convert.ToHexStringLower(md5)}\"", DateTimeOffset.UtcNow)
        {
            ContentType = options.ContentType ?? "application/octet-stream",
            ContentEncoding = options.ContentEncoding,
            Metadata = options.Metadata is null ? null : new Dictionary<string, string>(options.Metadata),
        };
        lock (_lock)
        {
            _objects[key] = new Entry(info, bytes);
        }
        return info;
    }

    /// <inheritdoc/>
    public Task DeleteAsync(string key, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            _objects.Remove(key);
        }
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task<ObjectInfo> CopyAsync(string sourceKey, string destinationKey, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (!_objects.TryGetValue(sourceKey, out var e))
            {
                throw new ObjectNotFoundException(sourceKey);
            }
            var info = e.Info with { Key = destinationKey, LastModified = DateTimeOffset.UtcNow };
            _objects[destinationKey] = new Entry(info, e.Bytes);
            return Task.FromResult(info);
        }
    }

    /// <inheritdoc/>
    public Task<ObjectInfo> UpdateMetadataAsync(string key, ObjectWriteOptions options, string? ifMatch, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (!_objects.TryGetValue(key, out var e)) throw new ObjectNotFoundException(key);
            if (ifMatch is not null && ifMatch != e.Info.ETag) throw new PreconditionFailedException(key, ifMatch);
            var info = e.Info with
            {
                LastModified = DateTimeOffset.UtcNow,
                ContentType = options.ContentType ?? "application/octet-stream",
                ContentEncoding = options.ContentEncoding,
                Metadata = options.Metadata is null ? null : new Dictionary<string, string>(options.Metadata),
            };
            _objects[key] = new Entry(info, e.Bytes);
            return Task.FromResult(info);
        }
    }

    /// <inheritdoc/>
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
