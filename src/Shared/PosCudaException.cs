namespace PosCuda.Shared;

/// <summary>The base of every error this project raises on purpose.</summary>
/// <remarks><see cref="IsTransient"/> drives retries: a transient error may succeed if tried again.</remarks>
public class PosCudaException : Exception
{
    public PosCudaException(string message, bool isTransient = false, Exception? innerException = null)
        : base(message, innerException)
    {
        IsTransient = isTransient;
    }

    /// <summary>Whether trying the same operation again may succeed.</summary>
    public bool IsTransient { get; }
}
