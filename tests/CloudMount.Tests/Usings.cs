global using NUnit.Framework;

// The tests mount with FUSE and call Linux tools: they run on Linux only.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
