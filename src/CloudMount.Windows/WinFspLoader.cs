using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using CloudMount.Windows.Interop;
using Microsoft.Win32;

namespace CloudMount.Windows;

/// <summary>
/// Loads the WinFsp DLL the way FspLoad does (winfsp.h 2186-2230; an inline function there, so ours): first by
/// its bare name (a DLL next to the program or on the search path), then from the folder the WinFsp installer
/// records, <c>HKLM\SOFTWARE\WinFsp\InstallDir</c> in the 32-bit registry view (on 64-bit Windows:
/// <c>HKLM\SOFTWARE\WOW6432Node\WinFsp</c>), plus <c>bin\winfsp-x64.dll</c> (<c>-a64</c> on ARM64).
/// </summary>
[SupportedOSPlatform("windows")]
internal static class WinFspLoader
{
    /// <summary>winfsp-ARCH.dll for this process (FSP_DLLNAME, winfsp.h 2189).</summary>
    public static string DllName => WinFspLoaderNames.For(RuntimeInformation.ProcessArchitecture);

    /// <summary>Loads the DLL and returns its module handle.</summary>
    /// <exception cref="IOException">WinFsp is not installed, or its DLL does not load (the message is the one line to tell the user).</exception>
    public static nint Load()
    {
        if (NativeLibrary.TryLoad(DllName, out nint module)) return module;
        string? dir = InstallDir();
        if (dir is null)
        {
            throw new IOException($"WinFsp is not installed ({DllName} not found and no InstallDir under HKLM\\{FspConstants.ProductRegistryKey}); install it from the WinFsp releases (winfsp-2.x.msi)");
        }
        string path = Path.Combine(dir, "bin", DllName);
        if (!NativeLibrary.TryLoad(path, out module))
        {
            throw new IOException($"cannot load {path}: reinstall WinFsp");
        }
        return module;
    }

    /// <summary>The WinFsp install folder from the registry, or null.</summary>
    public static string? InstallDir()
    {
        using var hklm = RegistryKey.OpenBaseKey(RegistryHive.LocalMachine, RegistryView.Registry32);
        using var key = hklm.OpenSubKey(FspConstants.ProductRegistryKey);
        return key?.GetValue("InstallDir") as string;
    }
}

/// <summary>The WinFsp DLL's name per architecture (platform-neutral, so it is tested anywhere).</summary>
internal static class WinFspLoaderNames
{
    /// <summary>x64, a64 (ARM64) or x86, as FSP_FSCTL_PRODUCT_FILE_ARCH (fsctl.h 72-80) names them.</summary>
    public static string For(Architecture architecture) => architecture switch
    {
        Architecture.Arm64 => "winfsp-a64.dll",
        Architecture.X86 => "winfsp-x86.dll",
        _ => "winfsp-x64.dll",
    };
}
