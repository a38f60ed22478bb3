using System.Text.Json;
using Akka.Actor;
using Akka.Http.Dsl;
using Akka.Management.Dsl;
using Route = System.ValueTuple<string, Akka.Http.Dsl.HttpModuleBase>;

namespace PosCuda.Engine.Hosting;

/// <summary>Adds <c>GET /alive</c> and <c>GET /ready</c> to Akka.Management's HTTP endpoint: 200 when the check passes, 503 when it fails,
/// with a small JSON body saying why.</summary>
/// <remarks>
/// Akka.Management for .NET 1.5.73 has no health-check routes of its own (its reference configuration sends users to Akka.Hosting's
/// Microsoft.Extensions health checks, which need an ASP.NET Core host); the engine starts its actor system without Akka.Hosting, so
/// it contributes these two routes through <c>akka.management.http.routes</c>. The checks are <see cref="NodeHealth"/>'s.
/// </remarks>
public sealed class HealthRoutes : IManagementRouteProvider
{
    /// <summary>The HOCON key this provider is registered under.</summary>
    public const string ConfigName = "poscuda-health";

    /// <inheritdoc />
    public Route[] Routes(ManagementRouteProviderSettings settings) =>
    [
        (NodeHealth.AlivePath, new CheckModule(static health => health.CheckAliveAsync())),
        (NodeHealth.ReadyPath, new CheckModule(static health => health.CheckReadyAsync())),
    ];

    private sealed class CheckModule(Func<NodeHealth, Task<HealthResult>> check) : HttpModuleBase
    {
        public override async Task<bool> HandleAsync(IAkkaHttpContext httpContext)
        {
            if (!string.Equals(httpContext.HttpContext.Request.Method, "GET", StringComparison.OrdinalIgnoreCase))
            {
                return false;
            }

            HealthResult result = await check(NodeHealth.Get(httpContext.ActorSystem)).ConfigureAwait(false);
            httpContext.HttpContext.Response.StatusCode = result.IsHealthy ? Ceen.HttpStatusCode.OK : Ceen.HttpStatusCode.ServiceUnavailable;
            string body = JsonSerializer.Serialize(new HealthBody(result.IsHealthy ? "ok" : "failing", result.Reason), EngineHealthJsonContext.Default.HealthBody);
            await httpContext.HttpContext.Response.WriteAllJsonAsync(body).ConfigureAwait(false);
            return true;
        }
    }
}

/// <summary>The JSON body of a health route.</summary>
/// <param name="Status"><c>ok</c> or <c>failing</c>.</param>
/// <param name="Reason">Why.</param>
internal sealed record HealthBody(string Status, string Reason);

/// <summary>System.Text.Json source generation for <see cref="HealthBody"/>.</summary>
[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase)]
[System.Text.Json.Serialization.JsonSerializable(typeof(HealthBody))]
internal sealed partial class EngineHealthJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
