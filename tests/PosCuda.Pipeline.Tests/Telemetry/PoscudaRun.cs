namespace PosCuda.Pipeline.Tests.Telemetry;

/// <summary>What a <c>poscuda</c> child process did: its exit code and everything it wrote.</summary>
/// <param name="ExitCode">The exit code.</param>
/// <param name="StandardOutput">Everything written to stdout.</param>
/// <param name="StandardError">Everything written to stderr.</param>
public sealed record PoscudaRun(int ExitCode, string StandardOutput, string StandardError)
{
    /// <inheritdoc/>
    public override string ToString() => $"exit {ExitCode}\nstdout:\n{StandardOutput}\nstderr:\n{StandardError}";
}
