using System.CommandLine;
using System.Text.Json;

namespace CloudMount.Cli.Service;

/// <summary>
/// What an fstab line's options (<c>mount -o a,b=c</c>) mean for <c>cloudmount mount</c>. Every option of the
/// mount command can be written with <c>_</c> for <c>-</c> and without the dashes (<c>cache_dir=/var/cache/x</c>,
/// <c>allow_other</c>, <c>metadata_ttl=5</c>); <c>ro</c> is <c>--read-only</c>. Options mount(8) and
/// systemd use for themselves (<c>_netdev</c>, <c>nofail</c>, <c>noauto</c>, <c>x-systemd.*</c>, ...) and the
/// generic flags every FUSE mount has anyway (<c>rw</c>, <c>nosuid</c>, <c>nodev</c>, <c>noatime</c>, ...) are
/// accepted and left out. Credentials come from files the options name, for mounts that run without a
/// HOME: <c>env_file=</c> (KEY=VALUE lines, as systemd's EnvironmentFile), <c>aws_credentials=</c>,
/// <c>aws_config=</c>, <c>aws_profile=</c>, and <c>cloudfiles_secret=</c> (a CloudFiles
/// <c>aws-secret.json</c> or <c>google-secret.json</c>). Anything else is an error naming the option.
/// </summary>
internal sealed class FstabOptions
{
    /// <summary>Options that concern mount(8), systemd or every mount, not CloudMount: accepted and dropped.</summary>
    private static readonly HashSet<string> Ignored = new(StringComparer.Ordinal)
    {
        "defaults", "_netdev", "nofail", "auto", "noauto", "user", "nouser", "users", "owner", "group", "rw",
        "suid", "nosuid", "dev", "nodev", "exec", "noexec", "atime", "noatime", "relatime", "norelatime",
        "strictatime", "nostrictatime", "diratime", "nodiratime", "lazytime", "nolazytime", "async", "loud", "silent",
    };

    private FstabOptions()
    {
    }

    /// <summary>Arguments for <c>cloudmount mount URL DIR</c> (after the mount point).</summary>
    public List<string> Arguments { get; } = [];

    /// <summary>Variables the mount gets (from env_file and the credential options).</summary>
    public Dictionary<string, string?> Environment { get; } = new(StringComparer.Ordinal);

    /// <summary>The <c>log_file=</c> option, or null for the default place.</summary>
    public string? LogFile { get; private set; }

    /// <summary>Options left out because of sloppy mode (<c>mount -s</c>).</summary>
    public List<string> Skipped { get; } = [];

    /// <summary>Maps a comma-separated option list for a mount whose command has <paramref name="mountOptions"/>.</summary>
    /// <param name="options">The <c>-o</c> value, for example <c>_netdev,ro,endpoint=http://h:9000,uid=1000</c>.</param>
    /// <param name="mountOptions">The options of <c>cloudmount mount</c> (names such as <c>--cache-dir</c>).</param>
    /// <param name="sloppy">Skip unknown options instead of failing (<c>mount -s</c>).</param>
    /// <exception cref="UsageException">An unknown option, a flag given a value, a value missing, or an unreadable credentials file.</exception>
    public static FstabOptions Map(string options, IEnumerable<Option> mountOptions, bool sloppy)
    {
        var byName = new Dictionary<string, Option>(StringComparer.Ordinal);
        foreach (var o in mountOptions)
        {
            foreach (var alias in o.Aliases.Append(o.Name).Where(a => a.StartsWith("--", StringComparison.Ordinal)))
            {
                byName[alias[2..].Replace('-', '_')] = o;
            }
        }
        var result = new FstabOptions();
        foreach (string item in SplitOptions(options))
        {
            int eq = item.IndexOf('=', StringComparison.Ordinal);
            string name = eq < 0 ? item : item[..eq];
            string? value = eq < 0 ? null : item[(eq + 1)..];
            if (Ignored.Contains(name) || name.StartsWith("x-", StringComparison.Ordinal) || name == "comment") continue;
            switch (name)
            {
                case "ro":
                    result.Arguments.Add("--read-only");
                    continue;
                case "env_file":
                    result.ReadEnvironmentFile(Required(name, value));
                    continue;
                case "aws_credentials":
                    result.Environment["AWS_SHARED_CREDENTIALS_FILE"] = ExistingFile(name, Required(name, value));
                    continue;
                case "aws_config":
                    result.Environment["AWS_CONFIG_FILE"] = ExistingFile(name, Required(name, value));
                    continue;
                case "aws_profile":
                    result.Environment["AWS_PROFILE"] = Required(name, value);
                    continue;
                case "cloudfiles_secret":
                    result.ReadCloudFilesSecret(ExistingFile(name, Required(name, value)));
                    continue;
                case "log_file":
                    result.LogFile = Required(name, value);
                    continue;
                case "daemon":
                    throw new UsageException("option 'daemon': a mount from fstab always runs in the background");
            }
            if (!byName.TryGetValue(name, out var option))
            {
                if (sloppy)
                {
                    result.Skipped.Add(item);
                    continue;
                }
                throw new UsageException($"unknown option '{name}' (the mount options of `cloudmount mount --help`, written with _ for -, e.g. cache_dir=DIR; see mount.cloudmount(8))");
            }
            bool flag = option.ValueType == typeof(bool);
            if (flag && value is not null)
            {
                throw new UsageException($"option '{name}' takes no value (write {name}, not {item})");
            }
            result.Arguments.Add(option.Name);
            if (!flag) result.Arguments.Add(Required(name, value));
        }
        return result;
    }

    /// <summary>Splits at commas, keeping commas inside double quotes (<c>comment="a,b"</c>), and drops the quotes.</summary>
    internal static List<string> SplitOptions(string options)
    {
        var items = new List<string>();
        var current = new System.Text.StringBuilder();
        bool quoted = false;
        foreach (char c in options)
        {
            if (c == '"') quoted = !quoted;
            else if (c == ',' && !quoted)
            {
                if (current.Length > 0) items.Add(current.ToString());
                current.Clear();
            }
            else current.Append(c);
        }
        if (current.Length > 0) items.Add(current.ToString());
        return items;
    }

    private static string Required(string name, string? value) =>
        string.IsNullOrEmpty(value) ? throw new UsageException($"option '{name}' needs a value ({name}=...)") : value;

    private static string ExistingFile(string name, string path) =>
        File.Exists(path) ? Path.GetFullPath(path) : throw new UsageException($"option '{name}': {path} does not exist");

    /// <summary>KEY=VALUE lines; blank lines and # comments skipped; <c>export </c> and surrounding quotes allowed.</summary>
    private void ReadEnvironmentFile(string path)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"option 'env_file': cannot read {path}: {e.Message}");
        }
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].Trim();
            if (line.Length == 0 || line[0] == '#') continue;
            if (line.StartsWith("export ", StringComparison.Ordinal)) line = line[7..].TrimStart();
            int eq = line.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0 || !line[..eq].All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
            {
                throw new UsageException($"option 'env_file': {path} line {i + 1} is not KEY=VALUE");
            }
            string value = line[(eq + 1)..];
            if (value.Length >= 2 && (value[0] == '"' || value[0] == '\'') && value[^1] == value[0]) value = value[1..^1];
            Environment[line[..eq]] = value;
        }
    }

    /// <summary>
    /// A CloudFiles secret: <c>*google-secret.json</c> becomes GOOGLE_APPLICATION_CREDENTIALS; an
    /// <c>*aws-secret.json</c> (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, optionally AWS_SESSION_TOKEN and
    /// AWS_DEFAULT_REGION, as cloudfiles/secrets.py reads it) becomes those variables.
    /// </summary>
    private void ReadCloudFilesSecret(string path)
    {
        if (path.EndsWith("google-secret.json", StringComparison.Ordinal))
        {
            Environment["GOOGLE_APPLICATION_CREDENTIALS"] = path;
            return;
        }
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            foreach (string key in new[] { "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION" })
            {
                if (doc.RootElement.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String) Environment[key] = v.GetString();
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or InvalidOperationException)
        {
            throw new UsageException($"option 'cloudfiles_secret': cannot read {path}: {e.Message.ReplaceLineEndings(" ")}");
        }
        if (!Environment.ContainsKey("AWS_ACCESS_KEY_ID") || !Environment.ContainsKey("AWS_SECRET_ACCESS_KEY"))
        {
            throw new UsageException($"option 'cloudfiles_secret': {path} has no AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (a Google key's name ends in google-secret.json)");
        }
    }
}
