namespace PosCuda.Coordinator.Cli;

/// <summary>A command line that is well-formed but asks for something invalid; exits with <see cref="ExitCodes.Usage"/>.</summary>
public sealed class UsageException : Exception
{
    public UsageException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}
