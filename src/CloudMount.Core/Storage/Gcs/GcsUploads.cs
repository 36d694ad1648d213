using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;

namespace CloudMount.Core.Storage.Gcs;

/// <summary>
/// Uploads, shaped as Google's client libraries shape them (google-resumable-media, the JSON API's "Uploads" pages):
/// up to <c>singleRequestBytes</c> one <c>uploadType=multipart</c> request whose two parts carry only a Content-Type
/// header (the object resource as JSON with its md5Hash, then the bytes); above that a resumable upload whose body goes
/// in one PUT and which, after a failure, asks the session how much it holds (<c>Content-Range: bytes */TOTAL</c>, answered
/// 308 with a Range) and sends the rest from there. Our uploads always know their size (staged files, spooled stdin),
/// so the chunked form, which Google's libraries use only for streams of unknown size, is never needed.
/// </summary>
public sealed partial class GcsObjectStore
{
    /// <summary>Resumptions of one resumable session before the failure is reported (and the whole upload retried above).</summary>
    private const int ResumeAttempts = 5;

    /// <summary>0 unknown, 1 status queries answer 308, 2 the server finalizes a session at any request (firebase-tools' emulator).</summary>
    private int _statusQueries;

    /// <summary>The JSON object resource sent with an upload or a patch.</summary>
    private static JsonObject Resource(string key, ObjectWriteOptions options, byte[]? md5)
    {
        var o = new JsonObject { ["name"] = key };
        if (options.ContentType is { } type) o["contentType"] = type;
        if (options.ContentEncoding is { } enc) o["contentEncoding"] = enc;
        if (md5 is not null) o["md5Hash"] = Convert.ToBase64String(md5);
        if (options.Metadata is { Count: > 0 } meta)
        {
            var m = new JsonObject();
            foreach (var (k, v) in meta) m[k] = v;
            o["metadata"] = m;
        }
        return o;
    }

    /// <inheritdoc/>
    public async Task<ObjectInfo> WriteAsync(string key, ObjectContent content, ObjectWriteOptions options, CancellationToken cancellationToken)
    {
        if (content.Length > _singleRequestBytes)
        {
            return await WriteResumableAsync(key, content, options, cancellationToken).ConfigureAwait(false);
        }
        Stream? body = null;
        try
        {
            using var r = await SendAsync(() =>
            {
                body?.Dispose();
                body = content.OpenRead();
                var m = Request(HttpMethod.Post, $"upload/storage/v1/b/{Escape(_bucket)}/o?uploadType=multipart");
                m.Content = new RelatedBody(Resource(key, options, options.ContentMd5).ToJsonString(), options.ContentType ?? "application/octet-stream", body, content.Length);
                return m;
            }, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
            if (!r.IsSuccessStatusCode)
            {
                if (r.StatusCode == HttpStatusCode.BadRequest && options.ContentMd5 is not null)
                {
                    string text = await r.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
                    if (text.Contains("MD5", StringComparison.OrdinalIgnoreCase) || text.Contains("hash", StringComparison.OrdinalIgnoreCase))
                    {
                        r.Dispose();
                        throw new ChecksumMismatchException($"{Name}/{key}: the service's MD5 of the body differs from the one sent");
                    }
                }
                throw await FailAsync(r, key).ConfigureAwait(false);
            }
            return await ObjectFromAsync(r, key, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (body is not null) await body.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task<ObjectInfo> ObjectFromAsync(HttpResponseMessage r, string key, CancellationToken ct)
    {
        try
        {
            using var doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync(ct).ConfigureAwait(false));
            return InfoFrom(doc.RootElement);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            throw new InvalidResponseException($"{Name}/{key}: the upload's answer is not an object resource: {e.Message}");
        }
    }

    /// <summary>
    /// A resumable upload (cloud.google.com/storage/docs/performing-resumable-uploads): a POST with the object resource
    /// opens a session; one PUT sends the body. When it fails on the way (connection dropped or silent, 5xx), the
    /// session is asked where it stands and the rest is sent from the committed offset. A server whose sessions end at
    /// their first request, status queries included, is not asked (that would store what it holds, perhaps nothing):
    /// the failure is reported and the upload is retried whole, in a new session.
    /// </summary>
    private async Task<ObjectInfo> WriteResumableAsync(string key, ObjectContent content, ObjectWriteOptions options, CancellationToken ct)
    {
        long total = content.Length;
        var session = await StartSessionAsync(key, total, options, ct).ConfigureAwait(false);
        long from = 0;
        for (int failures = 0; ; )
        {
            Exception failure;
            try
            {
                var r = await PutAsync(session, content, from, ct).ConfigureAwait(false);
                if ((int)r.StatusCode is not (408 or 429 or >= 500))
                {
                    using (r)
                    {
                        if (r.StatusCode is HttpStatusCode.OK or HttpStatusCode.Created) return await ObjectFromAsync(r, key, ct).ConfigureAwait(false);
                        if ((int)r.StatusCode == 308)
                        {
                            // The service holds less than was sent: go on from there (a session that stops growing fails).
                            long held = Committed(r);
                            if (held <= from && ++failures >= ResumeAttempts) throw new TransientStoreException($"{Name}/{key}: the upload session keeps {held} of {total} bytes");
                            from = held;
                            continue;
                        }
                    }
                    throw await FailAsync(r, key).ConfigureAwait(false);
                }
                failure = await FailAsync(r, key).ConfigureAwait(false);
            }
            catch (ObjectStoreException e) when (e.IsTransient)
            {
                failure = e;
            }
            if (++failures >= ResumeAttempts || !await StatusQueriesWorkAsync(ct).ConfigureAwait(false))
            {
                throw failure;
            }
            _logger.LogDebug("{Store}: upload of {Key} broke off ({Error}); asking the session how much it holds", Name, key, failure.Message);
            await Task.Delay(Decorators.RetryPolicy.Default.DelayBefore(failures - 1), ct).ConfigureAwait(false);
            try
            {
                using var q = await QueryAsync(session, total, ct).ConfigureAwait(false);
                if (q.StatusCode is HttpStatusCode.OK or HttpStatusCode.Created) return await ObjectFromAsync(q, key, ct).ConfigureAwait(false);
                if ((int)q.StatusCode == 308) from = Committed(q);
                else if ((int)q.StatusCode is 404 or 410) throw new TransientStoreException($"{Name}/{key}: the upload session is gone ({(int)q.StatusCode}); starting again");
                else if ((int)q.StatusCode is not (408 or 429 or >= 500)) throw await FailAsync(q, key).ConfigureAwait(false);
            }
            catch (ObjectStoreException e) when (e.IsTransient && failures + 1 < ResumeAttempts)
            {
                // The query failed too: the next PUT resends from the offset known last, and the service answers 308 if it holds more.
            }
        }
    }

    /// <summary>"Range: bytes=0-X" says the service holds X+1 bytes; no Range header, none.</summary>
    private static long Committed(HttpResponseMessage r) =>
        r.Headers.TryGetValues("Range", out var range) && range.FirstOrDefault() is { } v && v.LastIndexOf('-') is int dash and > 0
            ? long.Parse(v[(dash + 1)..], CultureInfo.InvariantCulture) + 1
            : 0;

    private async Task<Uri> StartSessionAsync(string key, long total, ObjectWriteOptions options, CancellationToken ct)
    {
        using var r = await SendAsync(() =>
        {
            var m = Request(HttpMethod.Post, $"upload/storage/v1/b/{Escape(_bucket)}/o?uploadType=resumable");
            m.Headers.TryAddWithoutValidation("X-Upload-Content-Length", total.ToString(CultureInfo.InvariantCulture));
            if (options.ContentType is { } type) m.Headers.TryAddWithoutValidation("X-Upload-Content-Type", type);
            m.Content = JsonContent.Create(Resource(key, options, options.ContentMd5), Util.CoreJsonContext.Default.JsonObject);
            return m;
        }, HttpCompletionOption.ResponseContentRead, ct).ConfigureAwait(false);
        if (!r.IsSuccessStatusCode) throw await FailAsync(r, key).ConfigureAwait(false);
        return r.Headers.Location ?? throw new InvalidResponseException($"{Name}/{key}: a resumable upload was opened without a session URI");
    }

    /// <summary>The body from <paramref name="from"/> to the end in one PUT, with <c>Content-Range: bytes FROM-LAST/TOTAL</c>.</summary>
    private async Task<HttpResponseMessage> PutAsync(Uri session, ObjectContent content, long from, CancellationToken ct)
    {
        long total = content.Length;
        Stream? body = null;
        try
        {
            return await SendAsync(() =>
            {
                body?.Dispose();
                body = content.OpenRead(from, total - from);
                var m = new HttpRequestMessage(HttpMethod.Put, session) { Content = new StreamContent(body) };
                m.Content.Headers.ContentLength = total - from;
                m.Content.Headers.TryAddWithoutValidation("Content-Range", $"bytes {from}-{total - 1}/{total}");
                return m;
            }, HttpCompletionOption.ResponseContentRead, ct).ConfigureAwait(false);
        }
        finally
        {
            if (body is not null) await body.DisposeAsync().ConfigureAwait(false);
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

    /// <summary>
    /// Whether this server answers a status query as GCS does (308) rather than finalizing the session with what it holds
    /// (firebase-tools' emulator). Learned once, on a session of a scratch object under the parts folder, when the
    /// first upload breaks off: nothing of the user's is touched by the test.
    /// </summary>
    private async Task<bool> StatusQueriesWorkAsync(CancellationToken ct)
    {
        if (Volatile.Read(ref _statusQueries) is int known and not 0) return known == 1;
        string probe = $"{GcsComposeUploads.PartsFolder}probe-{Guid.NewGuid():n}";
        try
        {
            var session = await StartSessionAsync(probe, 1, ObjectWriteOptions.Default, ct).ConfigureAwait(false);
            using var q = await QueryAsync(session, 1, ct).ConfigureAwait(false);
            if ((int)q.StatusCode == 308)
            {
                Volatile.Write(ref _statusQueries, 1);
                return true;
            }
            if (q.StatusCode is HttpStatusCode.OK or HttpStatusCode.Created)
            {
                Volatile.Write(ref _statusQueries, 2);
                _logger.LogDebug("{Store}: this server finalizes a resumable upload at its first request, status queries included (firebase-tools' emulator does; GCS answers 308): an upload that breaks off starts again in a new session instead of resuming", Name);
                await DeleteAsync(probe, ct).ConfigureAwait(false);
            }
        }
        catch (ObjectStoreException e) when (e.IsTransient)
        {
            // Not known this time: do not ask the real session.
        }
        return false;
    }

    /// <summary>
    /// A multipart/related body as the Google client libraries write it: boundary, one Content-Type line, a blank line,
    /// the JSON resource; boundary, one Content-Type line, a blank line, the bytes; closing boundary.
    /// </summary>
    private sealed class RelatedBody : HttpContent
    {
        private readonly byte[] _head;
        private readonly byte[] _tail;
        private readonly Stream _data;
        private readonly long _length;

        public RelatedBody(string json, string contentType, Stream data, long length)
        {
            string boundary = "cloudmount" + Guid.NewGuid().ToString("n");
            _head = Encoding.UTF8.GetBytes($"--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{json}\r\n--{boundary}\r\nContent-Type: {contentType}\r\n\r\n");
            _tail = Encoding.ASCII.GetBytes($"\r\n--{boundary}--\r\n");
            _data = data;
            _length = length;
            Headers.ContentType = MediaTypeHeaderValue.Parse($"multipart/related; boundary={boundary}");
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            await stream.WriteAsync(_head, cancellationToken).ConfigureAwait(false);
            await _data.CopyToAsync(stream, 1 << 16, cancellationToken).ConfigureAwait(false);
            await stream.WriteAsync(_tail, cancellationToken).ConfigureAwait(false);
        }

        protected override bool TryComputeLength(out long length)
        {
            length = _head.Length + _length + _tail.Length;
            return true;
        }
    }
}
