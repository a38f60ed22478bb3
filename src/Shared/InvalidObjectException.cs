namespace PosCuda.Shared;

/// <summary>An object that cannot be protected because of what it contains (bad input); never retried.</summary>
public sealed class InvalidObjectException : PosCudaException
{
    public InvalidObjectException(string objectKey, string reason, Exception? innerException = null)
        : base($"{objectKey}: {reason}", isTransient: false, innerException)
    {
        ObjectKey = objectKey;
        Reason = reason;
    }

    /// <summary>The key of the offending object, relative to its source prefix.</summary>
    public string ObjectKey { get; }

    /// <summary>A human-readable reason, without the key.</summary>
    public string Reason { get; }
}
