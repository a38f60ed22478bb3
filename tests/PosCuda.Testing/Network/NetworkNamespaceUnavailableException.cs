namespace PosCuda.Testing.Network;

/// <summary>Network namespaces cannot be created on this machine (not root, no iproute2, no kernel support).</summary>
public sealed class NetworkNamespaceUnavailableException : Exception
{
    public NetworkNamespaceUnavailableException()
    {
    }

    public NetworkNamespaceUnavailableException(string message)
        : base(message)
    {
    }

    public NetworkNamespaceUnavailableException(string message, Exception? inner)
        : base(message, inner)
    {
    }
}
