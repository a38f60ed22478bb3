namespace PosCuda.Coordinator.Cli;

/// <summary>The exit codes of the <c>poscuda</c> tool.</summary>
public static class ExitCodes
{
    /// <summary>Everything was protected.</summary>
    public const int Success = 0;

    /// <summary>Anything else went wrong (keyring refused, store unreachable, interrupted).</summary>
    public const int Error = 1;

    /// <summary>The command line was wrong.</summary>
    public const int Usage = 2;

    /// <summary>The job finished, but some objects failed (see the report).</summary>
    public const int SomeFailed = 3;
}
