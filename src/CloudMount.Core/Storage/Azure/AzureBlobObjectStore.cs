using System.Collections.Concurrent;
using System.Text;
using Azure;
using Azure.Storage;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;

namespace CloudMount.Core.Storage.Azure;

/// <summary>
/// A container of Azure Blob Storage (block blobs) on Azure.Storage.Blobs: listings by prefix and delimiter
/// (GetBlobsByHierarchy) with continuation tokens, range reads pinned with If-Match, uploads with Content-MD5
/// and the SDK's parallel block uploads for large ones, server-side copy (Copy Blob, polled to completion),
/// metadata (Set Blob Metadata, conditional on the ETag). The SDK's own retries are off: the shared retry
/// decorator retries.
/// </summary>
/// <remarks>
/// Directory markers follow blobfuse2 and Azure Data Lake: a zero-byte blob named after the directory, without
/// a trailing slash, with the metadata <c>hdi_isfolder=true</c> (Azurite also drops a trailing slash from blob
/// names). Such a blob is the key <c>dir/</c> to the layers above: a common prefix in delimiter listings, a
/// marker object in flat ones, and what HEAD, write and delete of <c>dir/</c> reach.
/// </remarks>
public sealed class AzureBlobObjectStore : IObjectStore
{
    private readonly BlobContainerClient _container;

    /// <summary>Creates a store over an existing container client (credentials already attached).</summary>
    public AzureBlobObjectStore(BlobContainerClient container)
    {
        _container = container;
        Name = $"az://{container.Name}";
        Multipart = new BlockUploads(this);
    }

    /// <summary>
    /// Options every client of ours uses: no SDK retries (ours retry), and our HTTP transport, whose stall guard fails a
    /// request on a silent server within <paramref name="timeouts"/>.
    /// </summary>
    public static BlobClientOptions ClientOptions(HttpTimeouts timeouts)
    {
        var options = new BlobClientOptions { Transport = new global::Azure.Core.Pipeline.HttpClientTransport(StoreHttp.CreateClient(timeouts)) };
        options.Retry.MaxRetries = 0;
        options.Retry.NetworkTimeout = Timeout.InfiniteTimeSpan;
        return options;
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public StoreCapabilities Capabilities { get; } = new() { MaxSinglePutBytes = 256 * Bytes.MiB, MarkerInOwnListing = false };

    /// <inheritdoc/>
    public IMultipartUploads Multipart { get; }

    /// <summary>The metadata that marks a directory blob (blobfuse2, ADLS Gen2).</summary>
    public const string FolderMetadata = "hdi_isfolder";

    private static bool IsFolder(IDictionary<string, string>? metadata) =>
        metadata is not null && metadata.TryGetValue(FolderMetadata, out var v) && v.Equals("true", StringComparison.OrdinalIgnoreCase);

    /// <summary>The blob that holds a key: a directory marker <c>dir/</c> lives in the blob <c>dir</c>.</summary>
    private static string BlobName(string key) => key.Length > 1 && key.EndsWith('/') ? key.TrimEnd('/') : key;

    private Exception Fail(Exception e, string? key, string? ifMatch = null)
    {
        string where = key is null ? Name : $"{Name}/{key}";
        switch (e)
        {
            case ObjectStoreException:
            case OperationCanceledException when e.InnerException is not TimeoutException:
                return e;
            case RequestFailedException r when r.Status != 0:
                return (r.Status, r.ErrorCode) switch
                {
                    (404, "ContainerNotFound") => new BucketNotFoundException(_container.Name, e),
                    (404, _) when key is null => new BucketNotFoundException(_container.Name, e),
                    (404, _) => new ObjectNotFoundException(key!, e),
                    (412, _) => new PreconditionFailedException(key ?? "", ifMatch, e),
                    (403, "AuthenticationFailed" or "AuthorizationFailure") => new AccessDeniedException($"access to {where} denied: the account key or SAS is wrong or lacks the permission ({r.ErrorCode})", e),
                    (401 or 403, _) => new AccessDeniedException($"access to {where} denied ({r.Status} {r.ErrorCode})", e),
                    (400, "Md5Mismatch" or "InvalidMd5") => new ChecksumMismatchException($"{where}: the service's MD5 of the body differs ({r.ErrorCode})"),
                    (408 or 429 or >= 500, _) => new TransientStoreException($"{where}: {r.Status} {r.ErrorCode}", e),
                    _ => new InvalidResponseException($"{where}: {r.Status} {r.ErrorCode}: {FirstLine(r.Message)}", e),
                };
            case TaskCanceledException { InnerException: TimeoutException t }:
                return new ConnectionFailedException(t.Message, e);
            case RequestFailedException or AggregateException or HttpRequestException or IOException or TimeoutException:
                return new ConnectionFailedException($"cannot reach {_container.Uri.GetLeftPart(UriPartial.Authority)}: {FirstLine((e.InnerException ?? e).Message)}", e);
        }
        return e;
    }

    /// <summary>ETags bare: headers quote them, listings' XML (in Azurite) does not; conditions send them quoted.</summary>
    private static string Tag(ETag e) => e.ToString().Trim('"');

    private static ETag Match(string etag) => new("\"" + etag.Trim('"') + "\"");

    private static string FirstLine(string s) => s.Split('\n')[0].Trim();

    private static Dictionary<string, string>? MetadataOf(IDictionary<string, string>? m) =>
        m is null || m.Count == 0 ? null : m.ToDictionary(kv => kv.Key.ToLowerInvariant(), kv => kv.Value, StringComparer.Ordinal);

    private static ObjectInfo InfoFrom(string key, BlobItemProperties p) =>
        new(key, p.ContentLength ?? 0, p.ETag is { } e ? Tag(e) : null, p.LastModified ?? DateTimeOffset.UnixEpoch)
        {
            ContentType = p.ContentType,
            ContentEncoding = p.ContentEncoding,
            StorageClass = p.AccessTier?.ToString(),
        };

    private static ObjectInfo InfoFrom(string key, BlobProperties p) =>
        new(key, p.ContentLength, Tag(p.ETag), p.LastModified)
        {
            ContentType = p.ContentType,
            ContentEncoding = p.ContentEncoding,
            Metadata = MetadataOf(p.Metadata),
            StorageClass = p.AccessTier,
        };

    /// <inheritdoc/>
    public async Task<ListPage> ListAsync(ListRequest request, CancellationToken cancellationToken)
    {
        try
        {
            int size = Math.Clamp(request.MaxKeys, 1, 5000);
            var objects = new List<ObjectInfo>();
            var prefixes = new List<string>();
            string? next = null;
            if (request.Delimiter is { } delimiter)
            {
                var pages = _container.GetBlobsByHierarchyAsync(BlobTraits.Metadata, BlobStates.None, delimiter, request.Prefix, cancellationToken)
                    .AsPages(request.PageToken, size);
                await foreach (var page in pages.ConfigureAwait(false))
                {
                    foreach (var item in page.Values)
                    {
                        if (item.IsPrefix) prefixes.Add(item.Prefix);
                        else if (IsFolder(item.Blob.Metadata) && delimiter == "/") prefixes.Add(item.Blob.Name + "/");
                        else objects.Add(InfoFrom(item.Blob.Name, item.Blob.Properties));
                    }
                    prefixes = prefixes.Distinct().Order(KeyComparer.Instance).ToList();
                    next = string.IsNullOrEmpty(page.ContinuationToken) ? null : page.ContinuationToken;
                    break;
                }
            }
            else
            {
                var pages = _container.GetBlobsAsync(BlobTraits.Metadata, BlobStates.None, request.Prefix, cancellationToken).AsPages(request.PageToken, size);
                await foreach (var page in pages.ConfigureAwait(false))
                {
                    objects.AddRange(page.Values.Select(b => InfoFrom(IsFolder(b.Metadata) ? b.Name + "/" : b.Name, b.Properties)));
                    objects.Sort((a, b) => KeyComparer.Instance.Compare(a.Key, b.Key));
                    next = string.IsNullOrEmpty(page.ContinuationToken) ? null : page.ContinuationToken;
                    break;
                }
            }
            return new ListPage(objects, prefixes, next);
        }
        catch (Exception e)
        {
            throw Fail(e, null);
        }
    }

    /// <inheritdoc/>
    public async Task<ObjectInfo?> HeadAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            var p = await _container.GetBlobClient(BlobName(key)).GetPropertiesAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            // dir/ is only the folder blob dir; a file dir is not the directory marker, nor the reverse.
            if (IsFolder(p.Value.Metadata) != (key != BlobName(key))) return null;
            return InfoFrom(key, p.Value);
        }
        catch (RequestFailedException e) when (e.Status == 404 && e.ErrorCode != "ContainerNotFound")
        {
            // A HEAD has no body, so the error code is missing: tell a missing container apart.
            if (!await _container.ExistsAsync(cancellationToken).ConfigureAwait(false)) throw new BucketNotFoundException(_container.Name, e);
            return null;
        }
        catch (Exception e)
        {
            throw Fail(e, key);
        }
    }

    /// <inheritdoc/>
    public async Task<ObjectReadResult> ReadAsync(string key, ByteRange range, string? ifMatch, CancellationToken cancellationToken)
    {
        if (range.Length == 0)
        {
            var head = await HeadAsync(key, cancellationToken).ConfigureAwait(false) ?? throw new ObjectNotFoundException(key);
            if (ifMatch is not null && head.ETag != ifMatch.Trim('"')) throw new PreconditionFailedException(key, ifMatch);
            return new ObjectReadResult(Stream.Null, head, new ByteRange(range.Offset, 0));
        }
        var options = new BlobDownloadOptions
        {
            Range = range.IsWholeObject ? default : new HttpRange(range.Offset, range.Length),
            Conditions = ifMatch is null ? null : new BlobRequestConditions { IfMatch = Match(ifMatch) },
        };
        BlobDownloadStreamingResult r;
        try
        {
            r = (await _container.GetBlobClient(BlobName(key)).DownloadStreamingAsync(options, cancellationToken).ConfigureAwait(false)).Value;
        }
        catch (RequestFailedException e) when (e.Status == 416)
        {
            var head = await HeadAsync(key, cancellationToken).ConfigureAwait(false) ?? throw new ObjectNotFoundException(key, e);
            if (ifMatch is not null && head.ETag != ifMatch.Trim('"')) throw new PreconditionFailedException(key, ifMatch, e);
            return new ObjectReadResult(Stream.Null, head, new ByteRange(head.Size, 0));
        }
        catch (Exception e)
        {
            throw Fail(e, key, ifMatch);
        }
        var d = r.Details;
        long total = d.ContentLength;
        long offset = 0;
        if (ContentRange.TryParse(d.ContentRange, out long start, out _, out long size))
        {
            total = size;
            offset = start;
        }
        var info = new ObjectInfo(key, total, Tag(d.ETag), d.LastModified)
        {
            ContentType = d.ContentType,
            ContentEncoding = d.ContentEncoding,
            Metadata = MetadataOf(d.Metadata),
            // A whole-blob read carries the blob's stored Content-MD5 (a range read carries none).
            Md5 = offset == 0 && d.ContentLength == total && d.ContentHash is { Length: 16 } h ? Convert.ToHexStringLower(h) : null,
        };
        return new ObjectReadResult(r.Content, info, new ByteRange(offset, d.ContentLength));
    }

    private static BlobHttpHeaders HeadersOf(ObjectWriteOptions options) => new()
    {
        ContentType = options.ContentType,
        ContentEncoding = options.ContentEncoding,
        ContentHash = options.ContentMd5,
    };

    /// <inheritdoc/>
    public async Task<ObjectInfo> WriteAsync(string key, ObjectContent content, ObjectWriteOptions options, CancellationToken cancellationToken)
    {
        if (key != BlobName(key) && content.Length == 0)
        {
            options = options with { Metadata = new Dictionary<string, string>(options.Metadata ?? new Dictionary<string, string>()) { [FolderMetadata] = "true" } };
        }
        await using var body = content.OpenRead();
        try
        {
            var blob = _container.GetBlobClient(BlobName(key));
            var upload = new BlobUploadOptions
            {
                HttpHeaders = HeadersOf(options),
                Metadata = options.Metadata?.ToDictionary(kv => kv.Key, kv => kv.Value),
                // Large bodies go up as blocks, four at a time (the SDK's parallel block upload).
                TransferOptions = new StorageTransferOptions
                {
                    InitialTransferSize = Capabilities.MaxSinglePutBytes,
                    MaximumTransferSize = 16 * Bytes.MiB,
                    MaximumConcurrency = 4,
                },
                TransferValidation = options.ContentMd5 is null ? null : new UploadTransferValidationOptions { ChecksumAlgorithm = StorageChecksumAlgorithm.None },
            };
            var r = await blob.UploadAsync(body, upload, cancellationToken).ConfigureAwait(false);
            return new ObjectInfo(key, content.Length, Tag(r.Value.ETag), r.Value.LastModified)
            {
                ContentType = options.ContentType,
                ContentEncoding = options.ContentEncoding,
                Metadata = options.Metadata,
                // Put Blob answers the MD5 the service computed of what it stored; a block upload's hash is not the content's.
                Md5 = content.Length <= Capabilities.MaxSinglePutBytes && r.Value.ContentHash is { Length: 16 } h ? Convert.ToHexStringLower(h) : null,
            };
        }
        catch (Exception e)
        {
            throw Fail(e, key);
        }
    }

    /// <inheritdoc/>
    public async Task DeleteAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            await _container.GetBlobClient(BlobName(key)).DeleteIfExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            throw Fail(e, key);
        }
    }

    /// <inheritdoc/>
    public async Task<ObjectInfo> CopyAsync(string sourceKey, string destinationKey, CancellationToken cancellationToken)
    {
        try
        {
            var source = _container.GetBlobClient(BlobName(sourceKey));
            var operation = await _container.GetBlobClient(BlobName(destinationKey)).StartCopyFromUriAsync(source.Uri, cancellationToken: cancellationToken).ConfigureAwait(false);
            await operation.WaitForCompletionAsync(TimeSpan.FromMilliseconds(200), cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException e) when (e.Status == 404 && e.ErrorCode != "ContainerNotFound")
        {
            throw new ObjectNotFoundException(sourceKey, e);
        }
        catch (Exception e)
        {
            throw Fail(e, sourceKey);
        }
        return await HeadAsync(destinationKey, cancellationToken).ConfigureAwait(false) ?? throw new ObjectNotFoundException(destinationKey);
    }

    /// <summary>Sets the blob's metadata (and its Content-Type and Content-Encoding), only if its ETag is still <paramref name="ifMatch"/>.</summary>
    public async Task<ObjectInfo> UpdateMetadataAsync(string key, ObjectWriteOptions options, string? ifMatch, CancellationToken cancellationToken)
    {
        var blob = _container.GetBlobClient(BlobName(key));
        var conditions = ifMatch is null ? null : new BlobRequestConditions { IfMatch = Match(ifMatch) };
        try
        {
            var current = (await blob.GetPropertiesAsync(conditions, cancellationToken).ConfigureAwait(false)).Value;
            var set = await blob.SetMetadataAsync(options.Metadata?.ToDictionary(kv => kv.Key, kv => kv.Value) ?? [], conditions, cancellationToken).ConfigureAwait(false);
            if (options.ContentType != current.ContentType || options.ContentEncoding != current.ContentEncoding)
            {
                await blob.SetHttpHeadersAsync(new BlobHttpHeaders
                {
                    ContentType = options.ContentType ?? current.ContentType,
                    ContentEncoding = options.ContentEncoding ?? current.ContentEncoding,
                    ContentHash = current.ContentHash,
                    ContentLanguage = current.ContentLanguage,
                    ContentDisposition = current.ContentDisposition,
                    CacheControl = current.CacheControl,
                }, new BlobRequestConditions { IfMatch = set.Value.ETag }, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception e)
        {
            throw Fail(e, key, ifMatch);
        }
        return await HeadAsync(key, cancellationToken).ConfigureAwait(false) ?? throw new ObjectNotFoundException(key);
    }

    /// <inheritdoc/>
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    /// <summary>
    /// The mount's streaming uploads as block blobs: each part a staged block (Put Block, with its MD5), committed
    /// in part order by one Put Block List with the headers and metadata. Uncommitted blocks are discarded by the
    /// service (after a week), so aborting needs no request.
    /// </summary>
    private sealed class BlockUploads(AzureBlobObjectStore store) : IMultipartUploads
    {
        public long MinPartBytes => 1;

        public int MaxParts => 50_000;

        public Task<IMultipartUpload> StartAsync(string key, ObjectWriteOptions options, CancellationToken cancellationToken) =>
            Task.FromResult<IMultipartUpload>(new Upload(store, key, options, Guid.NewGuid().ToString("n")[..16]));

        private sealed class Upload(AzureBlobObjectStore store, string key, ObjectWriteOptions options, string id) : IMultipartUpload
        {
            private readonly ConcurrentDictionary<int, string> _blocks = new();

            public string Key => key;

            // Block IDs must all have the same length within a blob.
            private string BlockId(int part) => Convert.ToBase64String(Encoding.ASCII.GetBytes($"{id}-{part:D6}"));

            public async Task UploadPartAsync(int partNumber, ObjectContent content, CancellationToken cancellationToken)
            {
                byte[] md5;
                await using (var hash = content.OpenRead())
                {
                    md5 = await System.Security.Cryptography.MD5.HashDataAsync(hash, cancellationToken).ConfigureAwait(false);
                }
                await using var body = content.OpenRead();
                try
                {
                    await store._container.GetBlockBlobClient(key).StageBlockAsync(BlockId(partNumber), body,
                        new BlockBlobStageBlockOptions { TransferValidation = new UploadTransferValidationOptions { ChecksumAlgorithm = StorageChecksumAlgorithm.MD5, PrecalculatedChecksum = md5 } },
                        cancellationToken).ConfigureAwait(false);
                    _blocks[partNumber] = BlockId(partNumber);
                }
                catch (Exception e)
                {
                    throw store.Fail(e, key);
                }
            }

            public async Task<ObjectInfo> CompleteAsync(int parts, long totalBytes, CancellationToken cancellationToken)
            {
                var ids = Enumerable.Range(1, parts).Select(p => _blocks.TryGetValue(p, out var b) ? b : throw new InvalidOperationException($"part {p} of {key} was never uploaded")).ToList();
                try
                {
                    await store._container.GetBlockBlobClient(key).CommitBlockListAsync(ids, new CommitBlockListOptions
                    {
                        HttpHeaders = new BlobHttpHeaders { ContentType = options.ContentType, ContentEncoding = options.ContentEncoding },
                        Metadata = options.Metadata?.ToDictionary(kv => kv.Key, kv => kv.Value),
                    }, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e)
                {
                    throw store.Fail(e, key);
                }
                var info = await store.HeadAsync(key, cancellationToken).ConfigureAwait(false) ?? throw new ObjectNotFoundException(key);
                if (info.Size != totalBytes) throw new InvalidResponseException($"{store.Name}/{key}: committed {info.Size} bytes, expected {totalBytes}");
                return info;
            }

            public Task AbortAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        }
    }
}
