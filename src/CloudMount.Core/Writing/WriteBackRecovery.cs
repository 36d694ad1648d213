using System.Text.Json;
using CloudMount.Core.Storage;
using Microsoft.Extensions.Logging;

namespace CloudMount.Core.Writing;

/// <summary>
/// Uploads what earlier mounts staged but did not store (write-back recovery): every <c>STAGING/*/ID.data</c>
/// with a record <c>ID.json</c> naming this store, in staging folders no live mount holds locked.
/// </summary>
/// <remarks>
/// <para>The rule for where recovered data goes: data whose file was closed after its last change
/// (<see cref="PendingUpload.IsClosed"/>) goes to its key, unless the object changed since the changes began
/// (its ETag is no longer the record's base ETag); data that was still being written when the mount died, and
/// data whose object changed, goes to <c>KEY.cloudmount-recovered-TIME</c>. So a half-written file never
/// replaces a good object and nobody's newer write is clobbered, and nothing is lost.</para>
/// <para>Multipart uploads a dead mount left open (<c>ID.upload</c>, <see cref="PendingMultipart"/>) are aborted,
/// so their parts do not stay on the service. Staging files without a record held only a copy of an object
/// and are deleted.</para>
/// </remarks>
public static class WriteBackRecovery
{
    /// <summary>One staged file waiting for upload, for <c>cloudmount cache list</c>.</summary>
    /// <param name="Sidecar">What the record says.</param>
    /// <param name="DataPath">The staged bytes.</param>
    /// <param name="Bytes">Their size.</param>
    /// <param name="Live">True when a running mount holds the folder (it will upload it itself).</param>
    public sealed record Pending(PendingUpload Sidecar, string DataPath, long Bytes, bool Live);

    /// <summary>Every pending upload under <paramref name="stagingRoot"/>.</summary>
    public static IReadOnlyList<Pending> Find(string stagingRoot)
    {
        var result = new List<Pending>();
        if (!Directory.Exists(stagingRoot)) return result;
        foreach (var dir in Directory.EnumerateDirectories(stagingRoot))
        {
            try
            {
                bool live = IsLocked(dir);
                foreach (var json in Directory.EnumerateFiles(dir, "*.json"))
                {
                    string data = Path.ChangeExtension(json, ".data");
                    if (!File.Exists(data)) continue;
                    if (Read(json, StagingJson.Default.PendingUpload) is { } record) result.Add(new Pending(record, data, new FileInfo(data).Length, live));
                }
            }
            catch (Exception e) when (e is DirectoryNotFoundException or FileNotFoundException)
            {
                // The folder's mount ended and removed it (or a record was uploaded) while this looked: nothing pending there.
            }
        }
        return result;
    }

    private static T? Read<T>(string path, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type) where T : class
    {
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllText(path), type);
        }
        catch (Exception e) when (e is JsonException or IOException)
        {
            return null; // an unreadable record: leave the data for a person to look at
        }
    }

    private static bool IsLocked(string dir)
    {
        string lockPath = Path.Combine(dir, StagingArea.LockFileName);
        if (!File.Exists(lockPath)) return false;
        try
        {
            using var probe = new FileStream(lockPath, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
            return false;
        }
        catch (IOException)
        {
            return true;
        }
    }

    /// <summary>
    /// Uploads the pending files of <paramref name="store"/> found under <paramref name="stagingRoot"/>, in folders
    /// other than <paramref name="ownFolder"/> that no live mount holds. Folders may vanish meanwhile (their mount
    /// ended, or it is this one unmounting): they are skipped.
    /// </summary>
    /// <param name="stagingRoot">The folder that holds every mount's staging folder.</param>
    /// <param name="ownFolder">This mount's staging folder (its lock is released at unmount, which may come while
    /// this runs), or null.</param>
    /// <param name="store">The store whose records are uploaded.</param>
    /// <param name="upload">Part size and concurrency of the uploads.</param>
    /// <param name="logger">Where each recovered or failed file is reported.</param>
    /// <param name="cancellationToken">Stops the work between files.</param>
    /// <returns>How many were uploaded. A failure to look through the folders is logged, not thrown: it leaves
    /// the files for the next mount.</returns>
    public static async Task<int> RunAsync(string stagingRoot, string? ownFolder, IObjectStore store, UploadOptions upload, ILogger logger, CancellationToken cancellationToken)
    {
        try
        {
            return await RunCoreAsync(stagingRoot, ownFolder, store, upload, logger, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ObjectStoreException)
        {
            logger.LogWarning("could not look for files earlier mounts staged in {Folder}: {Error}; the next mount tries again", stagingRoot, e.Message);
            return 0;
        }
    }

    private static async Task<int> RunCoreAsync(string stagingRoot, string? ownFolder, IObjectStore store, UploadOptions upload, ILogger logger, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(stagingRoot)) return 0;
        string? own = ownFolder is null ? null : Path.GetFullPath(ownFolder);
        var dead = Directory.EnumerateDirectories(stagingRoot).Where(d => Path.GetFullPath(d) != own && !IsLocked(d)).ToList();
        foreach (var dir in dead)
        {
            try
            {
                await AbortUploadsAsync(dir, store, logger, cancellationToken).ConfigureAwait(false);
            }
            catch (DirectoryNotFoundException)
            {
                // Removed meanwhile by another mount's recovery.
            }
        }
        int done = 0;
        foreach (var p in Find(stagingRoot).Where(p => !p.Live && p.Sidecar.Store == store.Name && dead.Contains(Path.GetDirectoryName(p.DataPath)!)))
        {
            try
            {
                await RecoverAsync(p, store, upload, logger, cancellationToken).ConfigureAwait(false);
                done++;
            }
            catch (Exception e) when (e is ObjectStoreException or IOException or InvalidOperationException)
            {
                logger.LogWarning("could not upload the staged {Key} ({Path}) yet: {Error}", p.Sidecar.Key, p.DataPath, e.Message);
            }
        }
        foreach (var dir in dead) RemoveLeftovers(dir);
        return done;
    }

    private static async Task RecoverAsync(Pending p, IObjectStore store, UploadOptions upload, ILogger logger, CancellationToken ct)
    {
        var record = p.Sidecar;
        string key = record.Key;
        var current = await store.HeadAsync(key, ct).ConfigureAwait(false);
        bool conflict = current?.ETag != record.BaseETag;
        bool partial = !record.IsClosed;
        if (conflict || partial)
        {
            key = $"{key}.cloudmount-recovered-{record.Time.UtcDateTime:yyyyMMddTHHmmssZ}";
        }
        var options = new ObjectWriteOptions { ContentType = record.ContentType ?? ContentTypes.ForName(record.Key), Metadata = record.Metadata };
        var codec = Codecs.ContentCodec.Parse(record.Encoding);
        if (codec == Codecs.Codec.Identity)
        {
            await ObjectWriter.WriteAsync(store, key, ObjectContent.FromFile(p.DataPath), options, upload, ct).ConfigureAwait(false);
        }
        else
        {
            var (encoded, encodedOptions) = await Codecs.Encoder.EncodeAsync(ObjectContent.FromFile(p.DataPath), codec, null, options,
                Path.GetDirectoryName(p.DataPath)!, ct).ConfigureAwait(false);
            try
            {
                await ObjectWriter.WriteAsync(store, key, ObjectContent.FromFile(encoded), encodedOptions, upload, ct).ConfigureAwait(false);
            }
            finally
            {
                File.Delete(encoded);
            }
        }
        File.Delete(p.DataPath);
        File.Delete(Path.ChangeExtension(p.DataPath, ".json"));
        if (partial)
        {
            logger.LogWarning("recovered {Bytes} of {Key} that was still being written when its mount stopped ({Time}); stored as {Recovered}, {Key} is as it was",
                Bytes.Format(p.Bytes), record.Key, record.Time, key, record.Key);
        }
        else if (conflict)
        {
            logger.LogWarning("recovered {Bytes} of {Key} staged at {Time}; {Key} changed since, so it is stored as {Recovered}",
                Bytes.Format(p.Bytes), record.Key, record.Time, record.Key, key);
        }
        else
        {
            logger.LogInformation("recovered {Key}: uploaded {Bytes} staged at {Time}", key, Bytes.Format(p.Bytes), record.Time);
        }
    }

    /// <summary>Aborts the multipart uploads a dead mount left open in <paramref name="dir"/> for this store.</summary>
    private static async Task AbortUploadsAsync(string dir, IObjectStore store, ILogger logger, CancellationToken ct)
    {
        foreach (var path in Directory.EnumerateFiles(dir, "*.upload"))
        {
            if (Read(path, StagingJson.Default.PendingMultipart) is not { } upload || upload.Store != store.Name) continue;
            try
            {
                if (store.Multipart is { } multipart)
                {
                    var ids = new List<string>();
                    if (upload.UploadId.Length > 0)
                    {
                        ids.Add(upload.UploadId);
                    }
                    else
                    {
                        // The mount died before the service's answer named the upload: the unfinished uploads of the
                        // key started within a minute after it was asked for are its.
                        foreach (var (id, started) in await multipart.ListUnfinishedAsync(upload.Key, ct).ConfigureAwait(false))
                        {
                            if (started >= upload.Started.AddSeconds(-5) && started <= upload.Started.AddMinutes(1)) ids.Add(id);
                        }
                    }
                    foreach (var id in ids)
                    {
                        await multipart.AbortAsync(upload.Key, id, ct).ConfigureAwait(false);
                        logger.LogInformation("aborted the unfinished multipart upload {Id} of {Key} left by an earlier mount", id, upload.Key);
                    }
                }
                File.Delete(path);
            }
            catch (Exception e) when (e is ObjectStoreException or IOException)
            {
                logger.LogWarning("could not abort the unfinished multipart upload {Id} of {Key} yet: {Error}", upload.UploadId, upload.Key, e.Message);
            }
        }
    }

    /// <summary>
    /// Removes what a dead mount left that holds no unsaved data: staging files without a record (copies of
    /// objects, encoder temporaries), and the folder once nothing else is in it.
    /// </summary>
    private static void RemoveLeftovers(string dir)
    {
        try
        {
            foreach (var f in Directory.EnumerateFiles(dir))
            {
                string ext = Path.GetExtension(f);
                bool unsaved = ext is ".json" or ".upload" || (ext == ".data" && File.Exists(Path.ChangeExtension(f, ".json")));
                if (!unsaved && Path.GetFileName(f) != StagingArea.LockFileName) File.Delete(f);
            }
            // Re-checked at the end: a mount that was starting (its folder made, its lock not yet taken when this
            // looked) holds it now, and it is not removed under that mount.
            if (!Directory.EnumerateFiles(dir).Any(f => Path.GetFileName(f) != StagingArea.LockFileName) && !IsLocked(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Harmless: the next mount tries again.
        }
    }
}
