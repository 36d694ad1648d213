using System.Globalization;
using CloudMount.Core.Diagnostics;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace CloudMount.Cli;

/// <summary>
/// Serves the <see cref="CloudMountMetrics"/> instruments in Prometheus text format at
/// <c>http://ADDRESS/metrics</c> (OpenTelemetry's Prometheus HttpListener exporter).
/// </summary>
internal static class MetricsExporter
{
    /// <summary>
    /// Parses <c>PORT</c>, <c>HOST:PORT</c> or <c>[v6]:PORT</c>; a bare port listens on loopback (127.0.0.1).
    /// </summary>
    /// <exception cref="UsageException">Not an address.</exception>
    public static Uri ParseAddress(string text)
    {
        string t = text.Trim();
        if (int.TryParse(t.TrimStart(':'), NumberStyles.None, CultureInfo.InvariantCulture, out int port) && port is > 0 and < 65536)
        {
            return new Uri($"http://127.0.0.1:{port}/");
        }
        if (Uri.TryCreate("http://" + t + "/", UriKind.Absolute, out var uri) && uri.Port is > 0 and < 65536 && t.Contains(':', StringComparison.Ordinal))
        {
            return uri;
        }
        throw new UsageException($"--metrics-addr '{text}' is not PORT or HOST:PORT");
    }

    /// <summary>Starts the exporter; dispose the result to stop it.</summary>
    public static MeterProvider Start(Uri prefix) =>
        Sdk.CreateMeterProviderBuilder()
            .AddMeter(CloudMountMetrics.MeterName)
            .AddPrometheusHttpListener(o =>
            {
                o.Host = prefix.Host;
                o.Port = prefix.Port;
            })
            .Build();
}
