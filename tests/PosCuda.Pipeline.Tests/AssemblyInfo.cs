using System.Runtime.Versioning;

// The pipeline runs on Linux nodes; its tests use POSIX file modes and signals.
[assembly: SupportedOSPlatform("linux")]
