namespace CloudMount.Cli;

/// <summary>Where caches and staging files live unless <c>--cache-dir</c> says otherwise.</summary>
internal static class CacheDirectory
{
    /// <summary>$XDG_CACHE_HOME/cloudmount, or ~/.cache/cloudmount.</summary>
    public static string Default()
    {
        string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        string home = Environment.GetEnvironmentVariable("HOME") ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return Path.Combine(string.IsNullOrEmpty(xdg) ? Path.Combine(home, ".cache") : xdg, "cloudmount");
    }
}
