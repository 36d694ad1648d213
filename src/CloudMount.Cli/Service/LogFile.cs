using System.Text;
using Microsoft.Extensions.Logging;

namespace CloudMount.Cli.Service;

/// <summary>
/// <c>--log-file</c>: one-line log records (<c>yyyy-MM-dd HH:mm:ss.fff level: message</c>) appended to a file,
/// flushed per record so that a crash loses nothing and <c>tail -f</c> follows the mount. The file is opened
/// for appending (several mounts of one machine may share a file: each record is one write). Where a
/// background mount logs when no file is given is <see cref="DefaultPath"/>.
/// </summary>
internal sealed class LogFile : ILoggerProvider
{
    // Guards _writer: records from many threads go out whole and in order.
    private readonly Lock _lock = new();
    private readonly StreamWriter _writer;
    private readonly LogLevel _minimum;

    /// <summary>Opens (creating folders as needed) <paramref name="path"/> for appending.</summary>
    /// <exception cref="UsageException">The file cannot be opened (a missing permission, a folder in the way).</exception>
    public LogFile(string path, LogLevel minimum)
    {
        Path = System.IO.Path.GetFullPath(path);
        _minimum = minimum;
        try
        {
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
            _writer = new StreamWriter(new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete), new UTF8Encoding(false)) { AutoFlush = true };
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"--log-file {Path}: {e.Message}");
        }
    }

    /// <summary>The absolute path of the file.</summary>
    public string Path { get; }

    /// <summary>
    /// Where a background mount of <paramref name="mountPoint"/> logs by default: for root
    /// <c>/var/log/cloudmount/NAME.log</c>, for others <c>$XDG_STATE_HOME/cloudmount/NAME.log</c> (or
    /// <c>~/.local/state/cloudmount/NAME.log</c>); NAME is the mount point's path with <c>/</c> as <c>-</c>.
    /// </summary>
    public static string DefaultPath(string mountPoint)
    {
        string name = System.IO.Path.GetFullPath(mountPoint).Trim('/').Replace('/', '-');
        if (name.Length == 0) name = "root";
        string dir;
        if (OperatingSystem.IsLinux() && Linux.LinuxUser.Uid == 0)
        {
            dir = "/var/log/cloudmount";
        }
        else
        {
            string? state = Environment.GetEnvironmentVariable("XDG_STATE_HOME");
            string home = Environment.GetEnvironmentVariable("HOME") ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            dir = System.IO.Path.Combine(string.IsNullOrEmpty(state) ? System.IO.Path.Combine(home, ".local", "state") : state, "cloudmount");
        }
        return System.IO.Path.Combine(dir, name + ".log");
    }

    /// <inheritdoc/>
    public ILogger CreateLogger(string categoryName) => new FileLogger(this);

    /// <summary>Appends one record.</summary>
    private void Write(LogLevel level, string message)
    {
        string line = $"{DateTime.Now:yyyy-MM-dd HH:mm:ss.fff} {ConsoleOutput.LevelName(level)}: {message.ReplaceLineEndings(" ")}";
        lock (_lock)
        {
            try
            {
                _writer.WriteLine(line);
            }
            catch (IOException)
            {
                // A full disk must not take the mount down: the record is lost, the mount goes on.
            }
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        lock (_lock) _writer.Dispose();
    }

    private sealed class FileLogger(LogFile file) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= file._minimum && logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel)) file.Write(logLevel, formatter(state, exception));
        }
    }
}
