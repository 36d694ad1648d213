namespace CloudMount.Tests.Support;

/// <summary>Where things are: the repository, the built cloudmount.dll, a scratch folder per test run.</summary>
public static class Paths
{
    /// <summary>The repository root (holds CloudMount.sln).</summary>
    public static string Repo { get; } = FindRepo();

    /// <summary>The cloudmount.dll next to the tests (copied by the project reference).</summary>
    public static string CloudMountDll { get; } = Path.Combine(AppContext.BaseDirectory, "cloudmount.dll");

    /// <summary>A scratch folder for this test run, removed by <see cref="GlobalSetup"/>.</summary>
    public static string Scratch { get; } = Directory.CreateTempSubdirectory("cloudmount-tests-").FullName;

    /// <summary>A new empty folder under <see cref="Scratch"/>.</summary>
    public static string NewDir(string name)
    {
        string dir = Path.Combine(Scratch, $"{name}-{Guid.NewGuid():n}"[..(name.Length + 9)]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static string FindRepo()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "CloudMount.sln"))) return d.FullName;
        }
        throw new InvalidOperationException("CloudMount.sln not found above " + AppContext.BaseDirectory);
    }
}
