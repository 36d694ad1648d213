using CloudMount.Core.Storage;
using CloudMount.Linux;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;

namespace CloudMount.Cli;

/// <summary>Logging to stderr in one-line records, and the one-line error report with exit codes.</summary>
internal static class ConsoleOutput
{
    /// <summary>
    /// A logger factory writing <c>HH:mm:ss.fff level: message</c> lines to stderr, or, with
    /// <paramref name="logFile"/>, dated lines to that file instead (<see cref="Service.LogFile"/>).
    /// </summary>
    /// <exception cref="UsageException">The log file cannot be opened.</exception>
    public static ILoggerFactory CreateLogs(bool verbose, string? logFile = null)
    {
        var minimum = verbose ? LogLevel.Debug : LogLevel.Information;
        var file = logFile is null ? null : new Service.LogFile(logFile, minimum);
        return LoggerFactory.Create(b =>
        {
            b.SetMinimumLevel(minimum);
            if (file is not null)
            {
                b.AddProvider(file);
                return;
            }
            b.AddConsole(o =>
            {
                o.FormatterName = OneLineFormatter.FormatterName;
                o.LogToStandardErrorThreshold = LogLevel.Trace;
            });
            // Registered by hand: AddConsoleFormatter<T, TOptions> binds TOptions from configuration by reflection (not trim-safe).
            b.Services.AddSingleton<ConsoleFormatter, OneLineFormatter>();
        });
    }

    /// <summary>The word a record's level is written as: trace, debug, info, warning, error, critical.</summary>
    public static string LevelName(LogLevel level) => level switch
    {
        LogLevel.Trace => "trace",
        LogLevel.Debug => "debug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warning",
        LogLevel.Error => "error",
        _ => "critical",
    };

    /// <summary>The one-line report of <paramref name="e"/>: <c>cloudmount: error: MESSAGE</c>.</summary>
    public static string ErrorLine(Exception e)
    {
        string message = e switch
        {
            AggregateException { InnerExceptions.Count: 1 } ae => ae.InnerException!.Message,
            _ => e.Message,
        };
        return $"cloudmount: error: {message.ReplaceLineEndings(" ")}";
    }

    /// <summary>The exit code for <paramref name="e"/>: 2 for bad usage, 1 otherwise.</summary>
    public static int ExitCode(Exception e) => e is UsageException or StoreUrlException ? 2 : 1;

    /// <summary>Prints <c>cloudmount: error: MESSAGE</c> and returns the exit code for <paramref name="e"/>.</summary>
    public static int ReportError(Exception e)
    {
        Console.Error.WriteLine(ErrorLine(e));
        return ExitCode(e);
    }

    /// <summary>True for the errors that get a one-line report rather than a stack trace.</summary>
    public static bool IsExpected(Exception e) => e is UsageException or StoreUrlException or StoreCheckException or MountException
        or ObjectStoreException or IOException or UnauthorizedAccessException or Core.Vfs.FileSystemException;

    internal sealed class OneLineFormatter() : ConsoleFormatter(FormatterName)
    {
        public const string FormatterName = "cloudmount";

        public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
        {
            string message = logEntry.Formatter(logEntry.State, logEntry.Exception);
            textWriter.WriteLine($"{DateTime.Now:HH:mm:ss.fff} {LevelName(logEntry.LogLevel)}: {message}");
        }
    }
}
