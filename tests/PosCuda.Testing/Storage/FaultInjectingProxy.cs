using System.Net;
using System.Net.Sockets;
using System.Text;

namespace PosCuda.Testing.Storage;

/// <summary>A tiny HTTP forwarder on loopback, in front of a real server, that answers chosen requests with faults.</summary>
/// <remarks>
/// Retry behaviour is tested against the real server this way: the client talks to <see cref="Endpoint"/>, the
/// proxy forwards each request unchanged to the upstream server unless a fault is armed
/// (<see cref="FailNext"/>, <see cref="FailEvery"/>), in which case it answers the S3 error itself, delays, or drops
/// the connection. It counts every request it receives.
/// </remarks>
public sealed class FaultInjectingProxy : IAsyncDisposable
{
    private static readonly HashSet<string> s_hopByHop = new(StringComparer.OrdinalIgnoreCase)
    {
        "Host", "Connection", "Keep-Alive", "Transfer-Encoding", "Content-Length", "Expect", "Proxy-Connection", "TE", "Trailer", "Upgrade",
    };

    private readonly Uri _upstream;
    private readonly HttpListener _listener;
    private readonly HttpClient _http;
    private readonly Task _acceptLoop;
    private readonly Lock _gate = new();
    private readonly List<Task> _handlers = [];
    private readonly CancellationTokenSource _closing = new(); // ends held requests when the proxy is disposed
    private int _requests;
    private int _inFlight;
    private int _maxInFlight;
    private int _faults;
    private int _failRemaining;
    private int _failEvery;
    private int _sinceFailEvery;
    private ProxyFault _fault;

    /// <summary>Starts a proxy on a free port of <paramref name="listenOn"/> (default loopback) that forwards to <paramref name="upstream"/>.</summary>
    /// <remarks>Clients must name that address in the URL (HttpListener matches the Host header): a relay in front will not do.</remarks>
    public FaultInjectingProxy(Uri upstream, IPAddress? listenOn = null)
    {
        ArgumentNullException.ThrowIfNull(upstream);
        _upstream = upstream;
        _http = new HttpClient(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.None,
        })
        { Timeout = Timeout.InfiniteTimeSpan };
        (_listener, Endpoint) = StartListener(listenOn ?? IPAddress.Loopback);
        _acceptLoop = AcceptLoopAsync();
    }

    /// <summary>A proxy (on <paramref name="listenOn"/>, default loopback) that holds every request for <paramref name="delay"/> before forwarding it: a slow store.</summary>
    public static FaultInjectingProxy Slow(Uri upstream, TimeSpan delay, IPAddress? listenOn = null)
    {
        var proxy = new FaultInjectingProxy(upstream, listenOn) { Delay = delay };
        proxy.FailEvery(1, ProxyFault.Delay);
        return proxy;
    }

    /// <summary>The proxy's endpoint, <c>http://127.0.0.1:PORT/</c> (or the address it listens on).</summary>
    public Uri Endpoint { get; }

    /// <summary>How long <see cref="ProxyFault.Delay"/> waits before forwarding.</summary>
    public TimeSpan Delay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Requests received so far, faulted or not.</summary>
    public int RequestCount => Volatile.Read(ref _requests);

    /// <summary>The most requests that were in the proxy at the same time.</summary>
    public int MaxConcurrentRequests => Volatile.Read(ref _maxInFlight);

    /// <summary>Requests answered with a fault so far.</summary>
    public int FaultCount => Volatile.Read(ref _faults);

    /// <summary>Answers the next <paramref name="count"/> requests with <paramref name="fault"/>.</summary>
    public void FailNext(int count, ProxyFault fault)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        lock (_gate)
        {
            _failRemaining = count;
            _failEvery = 0;
            _fault = fault;
        }
    }

    /// <summary>Answers every <paramref name="nth"/> request from now on with <paramref name="fault"/>.</summary>
    public void FailEvery(int nth, ProxyFault fault)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(nth, 1);
        lock (_gate)
        {
            _failRemaining = 0;
            _failEvery = nth;
            _sinceFailEvery = 0;
            _fault = fault;
        }
    }

    /// <summary>Disarms every fault and zeroes the counters.</summary>
    public void Reset()
    {
        lock (_gate)
        {
            _failRemaining = 0;
            _failEvery = 0;
            _requests = 0;
            _faults = 0;
            _maxInFlight = 0;
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _closing.CancelAsync();
        _listener.Close();
        try
        {
            await _acceptLoop;
        }
        catch (Exception)
        {
            // The listener was closed under it.
        }

        Task[] handlers;
        lock (_gate)
        {
            handlers = [.. _handlers];
        }

        await Task.WhenAll(handlers).WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(static _ => { }, TaskScheduler.Default);
        _http.Dispose();
        _closing.Dispose();
    }

    private static (HttpListener Listener, Uri Endpoint) StartListener(IPAddress address)
    {
        for (int attempt = 0; ; attempt++)
        {
            int port;
            using (var probe = new TcpListener(address, 0))
            {
                probe.Start();
                port = ((IPEndPoint)probe.LocalEndpoint).Port;
            }

            var listener = new HttpListener();
            string prefix = $"http://{address}:{port}/";
            listener.Prefixes.Add(prefix);
            try
            {
                listener.Start();
                return (listener, new Uri(prefix));
            }
            catch (HttpListenerException) when (attempt < 5)
            {
                // Someone took the port between probe and start: try another.
                listener.Close();
            }
        }
    }

    private async Task AcceptLoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            Task handler = Task.Run(() => HandleAsync(context));
            lock (_gate)
            {
                _handlers.RemoveAll(static t => t.IsCompleted);
                _handlers.Add(handler);
            }
        }
    }

    private async Task HandleAsync(HttpListenerContext context)
    {
        ProxyFault? fault = null;
        lock (_gate)
        {
            _requests++;
            if (_failRemaining > 0)
            {
                _failRemaining--;
                fault = _fault;
            }
            else if (_failEvery > 0 && ++_sinceFailEvery % _failEvery == 0)
            {
                fault = _fault;
            }

            if (fault is not null)
            {
                _faults++;
            }

            _maxInFlight = Math.Max(_maxInFlight, ++_inFlight);
        }

        try
        {
            byte[] body = await ReadBodyAsync(context.Request);
            switch (fault)
            {
                case ProxyFault.SlowDown:
                    await AnswerErrorAsync(context, 503, "SlowDown", "Please reduce your request rate.");
                    return;
                case ProxyFault.InternalError:
                    await AnswerErrorAsync(context, 500, "InternalError", "We encountered an internal error. Please try again.");
                    return;
                case ProxyFault.AccessDenied:
                    await AnswerErrorAsync(context, 403, "AccessDenied", "Access Denied");
                    return;
                case ProxyFault.Disconnect:
                    await DisconnectMidResponseAsync(context.Response);
                    return;
                case ProxyFault.Delay:
                    await Task.Delay(Delay, _closing.Token);
                    break;
            }

            await ForwardAsync(context, body);
        }
        catch (Exception)
        {
            // The client went away or upstream failed: drop the connection so the client sees a network error.
            try
            {
                context.Response.Abort();
            }
            catch (Exception)
            {
            }
        }
        finally
        {
            lock (_gate)
            {
                _inFlight--;
            }
        }
    }

    private async Task ForwardAsync(HttpListenerContext context, byte[] body)
    {
        HttpListenerRequest incoming = context.Request;
        var target = new Uri(
            _upstream.GetLeftPart(UriPartial.Authority) + incoming.RawUrl,
            new UriCreationOptions { DangerousDisablePathAndQueryCanonicalization = true });
        using var request = new HttpRequestMessage(new HttpMethod(incoming.HttpMethod), target);
        if (body.Length > 0 || incoming.HasEntityBody)
        {
            request.Content = new ByteArrayContent(body);
        }

        foreach (string? name in incoming.Headers.AllKeys)
        {
            if (name is null || s_hopByHop.Contains(name))
            {
                continue;
            }

            string[] values = incoming.Headers.GetValues(name) ?? [];
            if (!request.Headers.TryAddWithoutValidation(name, values))
            {
                request.Content?.Headers.TryAddWithoutValidation(name, values);
            }
        }

        using HttpResponseMessage response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead);
        HttpListenerResponse outgoing = context.Response;
        outgoing.StatusCode = (int)response.StatusCode;
        outgoing.KeepAlive = true;
        foreach (KeyValuePair<string, IEnumerable<string>> header in response.Headers.Concat(response.Content.Headers))
        {
            if (s_hopByHop.Contains(header.Key))
            {
                continue;
            }

            foreach (string value in header.Value)
            {
                try
                {
                    outgoing.AppendHeader(header.Key, value);
                }
                catch (ArgumentException)
                {
                    // A header HttpListener sets itself (Date, Server): leave it to it.
                }
            }
        }

        byte[] responseBody = await response.Content.ReadAsByteArrayAsync();
        if (incoming.HttpMethod == "HEAD")
        {
            outgoing.ContentLength64 = response.Content.Headers.ContentLength ?? 0;
            outgoing.Close();
            return;
        }

        outgoing.ContentLength64 = responseBody.Length;
        await outgoing.OutputStream.WriteAsync(responseBody);
        outgoing.Close();
    }

    // HttpListener answers an aborted response that never sent headers with an empty 200, so a dropped connection
    // is simulated the way it shows in the wild: headers promising a body, a few bytes of it, then the end.
    private static async Task DisconnectMidResponseAsync(HttpListenerResponse response)
    {
        response.StatusCode = 200;
        response.ContentType = "application/octet-stream";
        response.ContentLength64 = 1 << 20;
        await response.OutputStream.WriteAsync(new byte[16]);
        await response.OutputStream.FlushAsync();
        response.Abort();
    }

    private static async Task AnswerErrorAsync(HttpListenerContext context, int status, string code, string message)
    {
        byte[] xml = Encoding.UTF8.GetBytes(
            $"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{message}</Message><RequestId>fault-injecting-proxy</RequestId></Error>");
        HttpListenerResponse response = context.Response;
        response.StatusCode = status;
        response.ContentType = "application/xml";
        if (context.Request.HttpMethod == "HEAD")
        {
            response.Close();
            return;
        }

        response.ContentLength64 = xml.Length;
        await response.OutputStream.WriteAsync(xml);
        response.Close();
    }

    private static async Task<byte[]> ReadBodyAsync(HttpListenerRequest request)
    {
        if (!request.HasEntityBody)
        {
            return [];
        }

        using var buffer = new MemoryStream();
        await request.InputStream.CopyToAsync(buffer);
        return buffer.ToArray();
    }
}
