using System.Net;

namespace CloudMount.Core.Storage;

/// <summary>What the HttpClient backends (Swift, GCS, web servers) share: sending with transport failures mapped, and reading a range answer.</summary>
internal static class HttpExchange
{
    /// <summary>Sends <paramref name="request"/>; a refused connection or a timeout becomes <see cref="ConnectionFailedException"/> naming <paramref name="server"/>.</summary>
    public static async Task<HttpResponseMessage> SendAsync(HttpClient http, HttpRequestMessage request, HttpCompletionOption completion, Uri server, CancellationToken ct)
    {
        try
        {
            return await http.SendAsync(request, completion, ct).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new ConnectionFailedException($"cannot reach {server.GetLeftPart(UriPartial.Authority)}: {e.Message}", e);
        }
        catch (TaskCanceledException e) when (!ct.IsCancellationRequested)
        {
            throw new ConnectionFailedException(e.InnerException is TimeoutException t ? t.Message : $"request to {server.GetLeftPart(UriPartial.Authority)} timed out", e);
        }
    }

    /// <summary>
    /// Where the bytes of a successful GET sit in the object: from a 206's Content-Range, else the whole body of
    /// <paramref name="length"/> bytes. False when a range that does not start at 0 was asked for and ignored.
    /// </summary>
    public static bool TryServedRange(HttpResponseMessage r, ByteRange asked, long length, out long offset, out long total)
    {
        offset = 0;
        total = length;
        if (r.StatusCode == HttpStatusCode.PartialContent && r.Content.Headers.ContentRange is { From: { } from, Length: { } size })
        {
            offset = from;
            total = size;
            return true;
        }
        return asked.IsWholeObject || asked.Offset == 0;
    }
}
