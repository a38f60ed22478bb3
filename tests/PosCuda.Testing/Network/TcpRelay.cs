using System.Net;
using System.Net.Sockets;

namespace PosCuda.Testing.Network;

/// <summary>Forwards TCP connections from an address of this machine to a server on another (a loopback server, seen from a namespace).</summary>
/// <remarks>
/// The test servers listen on 127.0.0.1, which a <see cref="NetworkNamespace"/> cannot reach; a relay on a link's host-side address
/// hands the namespace's connections to them unchanged. The server sees the relay's loopback connection (so its loopback-only access
/// rules hold). When the link is cut, the namespace's side of each relayed connection stalls like any other connection over it.
/// </remarks>
public sealed class TcpRelay : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly IPEndPoint _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private readonly List<Task> _pumps = [];
    private readonly Task _accepting;

    /// <summary>Starts a relay on a free port of <paramref name="listenOn"/> to <paramref name="target"/>.</summary>
    public TcpRelay(IPAddress listenOn, IPEndPoint target)
    {
        ArgumentNullException.ThrowIfNull(listenOn);
        ArgumentNullException.ThrowIfNull(target);
        _target = target;
        _listener = new TcpListener(listenOn, 0);
        _listener.Start();
        Endpoint = (IPEndPoint)_listener.LocalEndpoint;
        _accepting = AcceptAsync();
    }

    /// <summary>Where the relay listens.</summary>
    public IPEndPoint Endpoint { get; }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        Task[] pumps;
        lock (_gate)
        {
            pumps = [_accepting, .. _pumps];
        }

        await Task.WhenAll(pumps).WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(static _ => { }, TaskScheduler.Default);
        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            lock (_gate)
            {
                _pumps.RemoveAll(static t => t.IsCompleted);
                _pumps.Add(RelayAsync(client));
            }
        }
    }

    private async Task RelayAsync(Socket client)
    {
        using (client)
        using (var server = new Socket(_target.AddressFamily, SocketType.Stream, ProtocolType.Tcp))
        {
            try
            {
                await server.ConnectAsync(_target, _stop.Token);
                client.NoDelay = server.NoDelay = true;
                using var done = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                Task up = PumpAsync(client, server, done.Token);
                Task down = PumpAsync(server, client, done.Token);
                await Task.WhenAny(up, down);
                await done.CancelAsync(); // One side closed: close the other.
                await Task.WhenAll(up, down);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                // The relay stops or the server is gone: the client sees the connection close.
            }
        }
    }

    private static async Task PumpAsync(Socket from, Socket to, CancellationToken cancellationToken)
    {
        byte[] buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                int read = await from.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
                if (read == 0)
                {
                    to.Shutdown(SocketShutdown.Send);
                    return;
                }

                await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, cancellationToken);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }
}
