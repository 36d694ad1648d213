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

    public void AddTo(Command command)
    {
        command.Options.Add(Endpoint);
        command.Options.Add(Region);
        command.Options.Add(NoSignRequest);
        command.Options.Add(UseHttps);
        command.Options.Add(Verbose);
        command.Options.Add(Retries);
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
        return new StoreConnectOptions
        {
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
