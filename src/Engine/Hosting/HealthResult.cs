namespace PosCuda.Engine.Hosting;

/// <summary>The outcome of a health check.</summary>
/// <param name="IsHealthy">Whether the check passed.</param>
/// <param name="Reason">Why, in words.</param>
public sealed record HealthResult(bool IsHealthy, string Reason)
{
    /// <summary>A passed check.</summary>
    public static HealthResult Healthy(string reason) => new(true, reason);

    /// <summary>A failed check.</summary>
    public static HealthResult Failing(string reason) => new(false, reason);
}
