using System.Text.Json;
using CloudMount.Core.Storage;
using Microsoft.Extensions.Logging;

namespace CloudMount.Core.Writing;

/// <summary>
/// Uploads what earlier mounts staged but could not store (write-back recovery): every
/// <c>STAGING/*/ID.data</c> with a sidecar <c>ID.json</c> naming this store, in staging folders no live mount
/// holds locked. If the object changed since the data's changes began (its ETag is no longer the sidecar's base
/// ETag), the data goes to <c>KEY.cloudmount-recovered-TIME</c> instead, so nobody's newer write is clobbered.
/// </summary>
public static class WriteBackRecovery
{
    /// <summary>One staged file waiting for upload, for <c>cloudmount cache list</c>.</summary>
    /// <param name="Sidecar">What the sidecar says.</param>
    /// <param name="DataPath">The staged bytes.</param>
    /// <param name="Bytes">Their size.</param>
    /// <param name="Live">True when a running mount holds the folder (it will retry the upload itself).</param>
    public sealed record Pending(PendingUpload Sidecar, string DataPath, long Bytes, bool Live);

    /// <summary>Every pending upload under <paramref name="stagingRoot"/>.</summary>
    public static IReadOnlyList<Pending> Find(string stagingRoot)
    {
        var result = new List<Pending>();
        if (!Directory.Exists(stagingRoot)) return result;
        foreach (var dir in Directory.EnumerateDirectories(stagingRoot))
        {
            bool live = IsLocked(dir);
            foreach (var json in Directory.EnumerateFiles(dir, "*.json"))
            {
                string data = Path.ChangeExtension(json, ".data");
                if (!File.Exists(data)) continue;
                try
                {
                    var sidecar = JsonSerializer.Deserialize(File.ReadAllText(json), Util.CoreJsonContext.Default.PendingUpload);
                    if (sidecar is not null) result.Add(new Pending(sidecar, data, new FileInfo(data).Length, live));
                }
                catch (JsonException)
                {
                    // An unreadable sidecar: leave the data for a person to look at.
                }
            }
        }
        return result;
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

    /// <summary>Uploads the pending files of <paramref name="store"/> found under <paramref name="stagingRoot"/>.</summary>
    /// <returns>How many were uploaded.</returns>
    public static async Task<int> RunAsync(string stagingRoot, IObjectStore store, UploadOptions upload, ILogger logger, CancellationToken cancellationToken)
    {
        int done = 0;
        foreach (var p in Find(stagingRoot).Where(p => !p.Live && p.Sidecar.Store == store.Name))
        {
            try
            {
                string key = p.Sidecar.Key;
                var current = await store.HeadAsync(key, cancellationToken).ConfigureAwait(false);
                bool conflict = current?.ETag != p.Sidecar.BaseETag;
                if (conflict)
                {
                    key = $"{key}.cloudmount-recovered-{p.Sidecar.Time.UtcDateTime:yyyyMMddTHHmmssZ}";
                }
                await ObjectWriter.WriteAsync(store, key, ObjectContent.FromFile(p.DataPath),
                    new ObjectWriteOptions { ContentType = ContentTypes.ForName(p.Sidecar.Key) }, upload, cancellationToken).ConfigureAwait(false);
                File.Delete(p.DataPath);
                File.Delete(Path.ChangeExtension(p.DataPath, ".json"));
                done++;
                if (conflict)
                {
                    logger.LogWarning("recovered {Bytes} of {Key} staged at {Time}; {Key} changed since, so it is stored as {Recovered}",
                        Bytes.Format(p.Bytes), p.Sidecar.Key, p.Sidecar.Time, p.Sidecar.Key, key);
                }
                else
                {
                    logger.LogInformation("recovered {Key}: uploaded {Bytes} staged at {Time}", key, Bytes.Format(p.Bytes), p.Sidecar.Time);
                }
                RemoveIfEmpty(Path.GetDirectoryName(p.DataPath)!);
            }
            catch (Exception e) when (e is ObjectStoreException or IOException)
            {
                logger.LogWarning("could not upload the staged {Key} ({Path}) yet: {Error}", p.Sidecar.Key, p.DataPath, e.Message);
            }
        }
        return done;
    }

    private static void RemoveIfEmpty(string dir)
    {
        try
        {
            if (!Directory.EnumerateFiles(dir).Any(f => f.EndsWith(".data", StringComparison.Ordinal) || f.EndsWith(".json", StringComparison.Ordinal)))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
        catch (IOException)
        {
            // Harmless.
        }
    }
}
