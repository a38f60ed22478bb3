using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Akka.Actor;

namespace PosCuda.Engine.Hosting;

/// <summary>A small HTTP endpoint for Kubernetes probes: <c>GET /alive</c> and <c>GET /ready</c> answer 200 when
/// <see cref="NodeHealth"/>'s check passes and 503 when it fails, with a JSON body saying why.</summary>
/// <remarks>
/// Its own port, not Akka.Management's: Akka.Management for .NET 1.5.73 has no health routes (its reference configuration sends users
/// to Akka.Hosting's Microsoft.Extensions health checks, which need an ASP.NET Core host; the engine does not use Akka.Hosting), and
/// its HTTP server, Akka.Http.Shim, is built against Ceen.Httpd 0.9.9: with 0.9.10 (the only version some package feeds serve) it
/// fails to start (<c>MissingMethodException</c>: <c>HttpServer.ListenAsync(IPEndPoint, ...)</c>). Probes must not depend on it.
/// </remarks>
internal sealed class HealthEndpoint : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly NodeHealth _health;
    private readonly Task _serving;

    private HealthEndpoint(ActorSystem system, int port)
    {
        _health = NodeHealth.Get(system);
        _listener.Prefixes.Add(string.Create(CultureInfo.InvariantCulture, $"http://+:{port}/"));
        _listener.Start();
        _serving = ServeAsync();
    }

    /// <summary>Starts serving on <paramref name="port"/> (all addresses) until <paramref name="system"/> terminates.</summary>
    public static void Start(ActorSystem system, int port)
    {
        var endpoint = new HealthEndpoint(system, port);
        system.WhenTerminated.ContinueWith(_ => endpoint.Dispose(), TaskScheduler.Default);
    }

    public void Dispose() => _listener.Close();

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return; // Closed.
            }

            _ = AnswerAsync(context);
        }
    }

    private async Task AnswerAsync(HttpListenerContext context)
    {
        HttpListenerResponse response = context.Response;
        try
        {
            HealthResult? result = (context.Request.HttpMethod, context.Request.Url?.AbsolutePath) switch
            {
                ("GET", NodeHealth.AlivePath) => await _health.CheckAliveAsync().ConfigureAwait(false),
                ("GET", NodeHealth.ReadyPath) => await _health.CheckReadyAsync().ConfigureAwait(false),
                _ => null,
            };
            response.StatusCode = result is null ? 404 : result.IsHealthy ? 200 : 503;
            response.ContentType = "application/json";
            byte[] body = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(
                result is null ? new HealthBody("unknown", "no such route: GET /alive or /ready") : new HealthBody(result.IsHealthy ? "ok" : "failing", result.Reason),
                HealthJsonContext.Default.HealthBody));
            response.ContentLength64 = body.Length;
            await response.OutputStream.WriteAsync(body).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or IOException)
        {
            // The prober went away.
        }
        finally
        {
            try
            {
                response.Close();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or IOException)
            {
                // Already gone.
            }
        }
    }
}

/// <summary>The JSON body of a probe's answer.</summary>
/// <param name="Status"><c>ok</c> or <c>failing</c>.</param>
/// <param name="Reason">Why.</param>
internal sealed record HealthBody(string Status, string Reason);

/// <summary>System.Text.Json source generation for <see cref="HealthBody"/>.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(HealthBody))]
internal sealed partial class HealthJsonContext : JsonSerializerContext;
