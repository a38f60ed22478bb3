using System.Net.Sockets;
using PosCuda.Shared;

namespace PosCuda.Engine.Batches;

/// <summary>The one rule for which errors are worth retrying (a ledger or store that is briefly away) and which are not.</summary>
public static class TransientErrors
{
    /// <summary>True for errors that a later attempt of the same call may not meet.</summary>
    public static bool IsTransient(Exception error) => error switch
    {
        PosCudaException p => p.IsTransient,
        TimeoutException or SocketException or IOException => true,
        _ => false,
    };
}
