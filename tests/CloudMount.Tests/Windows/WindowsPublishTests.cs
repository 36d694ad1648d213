using CloudMount.Tests.Support;

namespace CloudMount.Tests.Windows;

/// <summary>
/// The project builds for Windows on Linux: <c>dotnet publish src/CloudMount.Cli -r win-x64 --self-contained</c>
/// (plain net10.0; the win-x64 runtime and host packs come from NuGet) produces a Windows x64 executable that
/// carries the WinFsp adapter. Bin and obj go to a scratch artifacts path, so the tree's build is untouched.
/// </summary>
public sealed class WindowsPublishTests
{
    [Test]
    public async Task A_self_contained_win_x64_binary_is_produced()
    {
        string scratch = Paths.NewDir("win-x64");
        string output = Path.Combine(scratch, "out");
        var env = new Dictionary<string, string?>
        {
            // Settings the test host's own MSBuild leaves in the environment must not steer the nested build.
            ["MSBuildSDKsPath"] = null,
            ["MSBUILD_EXE_PATH"] = null,
            ["MSBuildExtensionsPath"] = null,
            ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
        };
        var r = await ProcessRunner.RunAsync("dotnet",
            ["publish", Path.Combine(Paths.Repo, "src", "CloudMount.Cli"), "-c", "Release", "-r", "win-x64", "--self-contained",
             "--artifacts-path", Path.Combine(scratch, "artifacts"), "-o", output, "--nologo", "-v", "quiet", "--disable-build-servers",
             "-p:GenerateDocumentationFile=false", "-p:DebugType=none", "-p:SatelliteResourceLanguages=en"],
            env, TimeSpan.FromMinutes(8), workingDirectory: Paths.Repo);
        Assert.That(r.ExitCode, Is.Zero, r.ToString());

        string exe = Path.Combine(output, "cloudmount.exe");
        Assert.That(File.Exists(exe), Is.True, "cloudmount.exe");
        Assert.That(File.Exists(Path.Combine(output, "CloudMount.Windows.dll")), Is.True, "the WinFsp adapter is in the binary");
        Assert.That(File.Exists(Path.Combine(output, "coreclr.dll")), Is.True, "self-contained: the Windows runtime comes along");
        byte[] head = new byte[4096];
        await using (var f = File.OpenRead(exe)) await f.ReadExactlyAsync(head);
        Assert.That(head[0..2], Is.EqualTo("MZ"u8.ToArray()), "a PE executable");
        int pe = BitConverter.ToInt32(head, 0x3C);
        Assert.That(head[pe..(pe + 4)], Is.EqualTo(new byte[] { (byte)'P', (byte)'E', 0, 0 }));
        Assert.That(BitConverter.ToUInt16(head, pe + 4), Is.EqualTo((ushort)0x8664), "IMAGE_FILE_MACHINE_AMD64");
    }
}
