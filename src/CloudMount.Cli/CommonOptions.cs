using System.CommandLine;
using CloudMount.Core.Storage;
using Microsoft.Extensions.Logging;

namespace CloudMount.Cli;

/// <summary>Options every command that talks to a store takes.</summary>
internal sealed class CommonOptions
{
    public Option<string?> Endpoint { get; } = new("--endpoint") { Description = "S3-compatible endpoint URL, e.g. http://127.0.0.1:9000 (default: AWS)" };
    public Option<string?> Region { get; } = new("--region") { Description = "Region for signing and for the AWS endpoint (default: from credentials, AWS_REGION, or us-east-1)" };
    public Option<bool> NoSignRequest { get; } = new("--no-sign-request") { Description = "Send unsigned requests (public buckets)" };
    public Option<bool> UseHttps { get; } = new("--use-https") { Description = "Read s3:// and gs:// buckets through their public https endpoints (or --endpoint), read-only, without credentials (CloudFiles' use_https)" };
    public Option<bool> Verbose { get; } = new("--verbose", "-v") { Description = "Log every retry and more detail" };
    public Option<int> Retries { get; } = new("--retries") { Description = "Attempts per request before an error is reported (exponential random backoff, 0.5 s doubling to 60 s)", DefaultValueFactory = _ => 7 };
    public Option<double> Timeout { get; } = new("--timeout")
    {
        Description = "Seconds a request waits for the first byte of an answer (and for a connection) before it fails and is retried; such failures count towards offline mode",
        DefaultValueFactory = _ => HttpTimeouts.Default.FirstByte.TotalSeconds,
    };
    public Option<double> IdleTimeout { get; } = new("--idle-timeout")
    {
        Description = "Seconds a request or answer body may move no byte while we wait on the server before the request fails",
        DefaultValueFactory = _ => HttpTimeouts.Default.Idle.TotalSeconds,
    };

    public void AddTo(Command command)
    {
        command.Options.Add(Endpoint);
        command.Options.Add(Region);
        command.Options.Add(NoSignRequest);
        command.Options.Add(UseHttps);
        command.Options.Add(Verbose);
        command.Options.Add(Retries);
        command.Options.Add(Timeout);
        command.Options.Add(IdleTimeout);
    }

    /// <summary>Builds connection options from a parse result.</summary>
    /// <exception cref="UsageException">The endpoint is not an absolute http(s) URL.</exception>
    public StoreConnectOptions ToConnectOptions(ParseResult parse, ILoggerFactory logs)
    {
        Uri? endpoint = null;
        if (parse.GetValue(Endpoint) is { } e)
        {
            if (!Uri.TryCreate(e, UriKind.Absolute, out endpoint) || endpoint.Scheme is not ("http" or "https"))
            {
                throw new UsageException($"--endpoint '{e}' is not an http:// or https:// URL");
            }
        }
        int retries = parse.GetValue(Retries);
        if (retries < 1)
        {
            throw new UsageException("--retries must be at least 1");
        }
        double firstByte = parse.GetValue(Timeout), idle = parse.GetValue(IdleTimeout);
        if (!(firstByte > 0 && firstByte <= 3600) || !(idle > 0 && idle <= 3600))
        {
            throw new UsageException("--timeout and --idle-timeout must be more than 0 and at most 3600 seconds");
        }
        var timeouts = new HttpTimeouts
        {
            FirstByte = TimeSpan.FromSeconds(firstByte),
            Idle = TimeSpan.FromSeconds(idle),
            Connect = TimeSpan.FromSeconds(Math.Min(firstByte, HttpTimeouts.Default.Connect.TotalSeconds)),
        };
        return new StoreConnectOptions
        {
            Timeouts = timeouts,
            Retry = Core.Storage.Decorators.RetryPolicy.Default with { MaxAttempts = retries },
            Endpoint = endpoint,
            Region = parse.GetValue(Region),
            Anonymous = parse.GetValue(NoSignRequest),
            UseHttps = parse.GetValue(UseHttps),
            Logs = logs,
        };
    }
}

/// <summary>Bad command-line input; exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);
