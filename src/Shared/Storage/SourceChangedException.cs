namespace PosCuda.Shared.Storage;

/// <summary>An object changed while it was being read in parts: what was read cannot be used (it may mix two versions).</summary>
/// <remarks>Transient: reading the object again from the start gives a consistent version.</remarks>
public sealed class SourceChangedException : PosCudaException
{
    public SourceChangedException(string objectKey, string reason, Exception? innerException = null)
        : base($"{objectKey}: {reason}", isTransient: true, innerException)
    {
        ObjectKey = objectKey;
        Reason = reason;
    }

    /// <summary>The key of the object, relative to its source prefix.</summary>
    public string ObjectKey { get; }

    /// <summary>What changed, without the key.</summary>
    public string Reason { get; }
}
