using CloudMount.Core.Storage;
using CloudMount.Linux;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;

namespace CloudMount.Cli;

/// <summary>Logging to stderr in one-line records, and the one-line error report with exit codes.</summary>
internal static class ConsoleOutput
{
    /// <summary>A logger factory writing <c>HH:mm:ss.fff level: message</c> lines to stderr.</summary>
    public static ILoggerFactory CreateLogs(bool verbose) => LoggerFactory.Create(b =>
    {
        b.SetMinimumLevel(verbose ? LogLevel.Debug : LogLevel.Information);
        b.AddConsole(o =>
        {
            o.FormatterName = OneLineFormatter.FormatterName;
            o.LogToStandardErrorThreshold = LogLevel.Trace;
        });
        b.AddConsoleFormatter<OneLineFormatter, ConsoleFormatterOptions>();
    });

    /// <summary>Prints <c>cloudmount: error: MESSAGE</c> and returns the exit code for <paramref name="e"/>.</summary>
    public static int ReportError(Exception e)
    {
        string message = e switch
        {
            AggregateException { InnerExceptions.Count: 1 } ae => ae.InnerException!.Message,
            _ => e.Message,
        };
        Console.Error.WriteLine($"cloudmount: error: {message.ReplaceLineEndings(" ")}");
        return e is UsageException or StoreUrlException ? 2 : 1;
    }

    /// <summary>True for the errors that get a one-line report rather than a stack trace.</summary>
    public static bool IsExpected(Exception e) => e is UsageException or StoreUrlException or StoreCheckException or MountException
        or ObjectStoreException or IOException or UnauthorizedAccessException or Core.Vfs.FileSystemException;

    private sealed class OneLineFormatter() : ConsoleFormatter(FormatterName)
    {
        public const string FormatterName = "cloudmount";

        public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
        {
            string message = logEntry.Formatter(logEntry.State, logEntry.Exception);
            string level = logEntry.LogLevel switch
            {
                LogLevel.Trace => "trace",
                LogLevel.Debug => "debug",
                LogLevel.Information => "info",
                LogLevel.Warning => "warning",
                LogLevel.Error => "error",
                _ => "critical",
            };
            textWriter.WriteLine($"{DateTime.Now:HH:mm:ss.fff} {level}: {message}");
        }
    }
}
