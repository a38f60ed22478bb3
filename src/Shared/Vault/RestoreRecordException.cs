namespace PosCuda.Shared.Vault;

/// <summary>A restore record that cannot be used: malformed, sealed to another vault key, or failing authentication (tampered or swapped).</summary>
/// <remarks>Never transient: the record stays as it is. The message names the record or object, never key material.</remarks>
public sealed class RestoreRecordException(string message, Exception? innerException = null)
    : PosCudaException(message, isTransient: false, innerException);
