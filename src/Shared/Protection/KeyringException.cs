namespace PosCuda.Shared.Protection;

/// <summary>A keyring file that cannot be used: unreadable, malformed, or readable by group or others.</summary>
/// <remarks>The message names the file and the problem, never a secret or any part of one.</remarks>
public sealed class KeyringException : PosCudaException
{
    public KeyringException(string path, string reason, Exception? innerException = null)
        : base($"keyring {path} {reason}", isTransient: false, innerException)
    {
        Path = path;
        Reason = reason;
    }

    /// <summary>The keyring file's path.</summary>
    public string Path { get; }

    /// <summary>What is wrong with it, without the path.</summary>
    public string Reason { get; }
}
