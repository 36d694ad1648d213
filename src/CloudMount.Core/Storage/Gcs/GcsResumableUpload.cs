using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace CloudMount.Core.Storage.Gcs;

public sealed partial class GcsObjectStore
{
    /// <summary>Attempts to resume one chunk after a dropped connection or a server error before giving up.</summary>
    private const int ChunkAttempts = 5;

    /// <summary>
    /// A resumable upload (cloud.google.com/storage/docs/performing-resumable-uploads): a POST with the object
    /// resource opens a session URI; chunks go up with <c>Content-Range: bytes A-B/TOTAL</c>, each answered by
    /// 308 and a Range header saying how much the service holds, the last by 200 with the object. When a chunk
    /// fails on the way (connection dropped, 5xx), the session is asked where it stands
    /// (<c>Content-Range: bytes */TOTAL</c>) and the upload goes on from there.
    /// </summary>
    private async Task<ObjectInfo> WriteResumableAsync(string key, ObjectContent content, ObjectWriteOptions options, CancellationToken ct)
    {
        Uri session;
        using (var r = await SendAsync(() =>
        {
            var m = Request(HttpMethod.Post, $"upload/storage/v1/b/{Escape(_bucket)}/o?uploadType=resumable");
            m.Headers.TryAddWithoutValidation("X-Upload-Content-Length", content.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
            m.Content = JsonContent.Create(Resource(key, options, options.ContentMd5), Util.CoreJsonContext.Default.JsonObject);
            return m;
        }, HttpCompletionOption.ResponseContentRead, ct).ConfigureAwait(false))
        {
            if (!r.IsSuccessStatusCode) throw await FailAsync(r, key).ConfigureAwait(false);
            session = r.Headers.Location ?? throw new InvalidResponseException($"{Name}/{key}: a resumable upload was opened without a session URI");
        }
        long total = content.Length;
        long sent = 0;
        int failures = 0;
        while (true)
        {
            int n = (int)Math.Min(_chunkBytes, total - sent);
            HttpResponseMessage r;
            try
            {
                r = await SendAsync(() =>
                {
                    var m = new HttpRequestMessage(HttpMethod.Put, session) { Content = new StreamContent(content.OpenRead(sent, n)) };
                    m.Content.Headers.ContentLength = n;
                    m.Content.Headers.TryAddWithoutValidation("Content-Range", $"bytes {sent}-{sent + n - 1}/{total}");
                    return m;
                }, HttpCompletionOption.ResponseContentRead, ct).ConfigureAwait(false);
            }
            catch (ConnectionFailedException) when (++failures < ChunkAttempts)
            {
                r = await QueryAsync(session, total, ct).ConfigureAwait(false);
            }
            if ((int)r.StatusCode >= 500 && ++failures < ChunkAttempts)
            {
                r.Dispose();
                r = await QueryAsync(session, total, ct).ConfigureAwait(false);
            }
            using (r)
            {
                if (r.StatusCode is HttpStatusCode.OK or HttpStatusCode.Created)
                {
                    try
                    {
                        using var doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync(ct).ConfigureAwait(false));
                        return InfoFrom(doc.RootElement);
                    }
                    catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException)
                    {
                        throw new InvalidResponseException($"{Name}/{key}: the finished upload's answer is not an object resource: {e.Message}");
                    }
                }
                if ((int)r.StatusCode != 308)
                {
                    throw await FailAsync(r, key).ConfigureAwait(false);
                }
                // "Range: bytes=0-X" says the service holds X+1 bytes; no Range header, none.
                sent = r.Headers.TryGetValues("Range", out var range) && range.FirstOrDefault() is { } v && v.LastIndexOf('-') is int dash and > 0
                    ? long.Parse(v[(dash + 1)..], System.Globalization.CultureInfo.InvariantCulture) + 1
                    : 0;
            }
        }
    }

    /// <summary>Asks a resumable session how many bytes it holds (an empty PUT with <c>bytes */TOTAL</c>).</summary>
    private Task<HttpResponseMessage> QueryAsync(Uri session, long total, CancellationToken ct) =>
        SendAsync(() =>
        {
            var m = new HttpRequestMessage(HttpMethod.Put, session) { Content = new ByteArrayContent([]) };
            m.Content.Headers.TryAddWithoutValidation("Content-Range", $"bytes */{total}");
            return m;
        }, HttpCompletionOption.ResponseContentRead, ct);
}
