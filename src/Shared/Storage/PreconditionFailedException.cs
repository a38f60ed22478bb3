namespace PosCuda.Shared.Storage;

/// <summary>A conditional write found the object changed (or present, or gone) since it was read; nothing was written.</summary>
public sealed class PreconditionFailedException(string objectKey, WriteCondition condition, Exception? innerException = null)
    : PosCudaException($"Not written: {objectKey} changed since it was read ({condition} failed).", isTransient: false, innerException)
{
    /// <summary>The object's key.</summary>
    public string ObjectKey { get; } = objectKey;
}
