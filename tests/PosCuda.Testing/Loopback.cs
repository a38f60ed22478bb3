using System.Net;
using System.Net.Sockets;

namespace PosCuda.Testing;

/// <summary>The loopback interface, for the servers the fixtures start.</summary>
public static class Loopback
{
    /// <summary>A TCP port on 127.0.0.1 that was free a moment ago (the server about to use it may still lose a race).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
