// Everything in this assembly runs on Linux only.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
