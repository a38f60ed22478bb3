namespace PosCuda.Shared.Protection;

/// <summary>The registry of spec versions; a job picks one by name.</summary>
public static class ProtectionSpecs
{
    private static readonly IProtectionSpec[] s_specs = [PoscudaV1.Instance, PoscudaV2.Instance];

    /// <summary>The names of the known specs.</summary>
    public static IReadOnlyList<string> Names { get; } = Array.ConvertAll(s_specs, static spec => spec.Name);

    /// <summary>Returns the spec called <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">No such spec.</exception>
    public static IProtectionSpec Get(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        foreach (IProtectionSpec spec in s_specs)
        {
            if (string.Equals(spec.Name, name, StringComparison.Ordinal))
            {
                return spec;
            }
        }

        throw new ArgumentException($"Unknown protection spec '{name}'; known specs: {string.Join(", ", Names)}.", nameof(name));
    }

    /// <summary>Returns the spec called <paramref name="name"/>, convolving on <paramref name="engine"/> where the spec convolves.</summary>
    /// <exception cref="ArgumentException">No such spec.</exception>
    public static IProtectionSpec Get(string name, IPatchEngine engine)
    {
        ArgumentNullException.ThrowIfNull(engine);
        IProtectionSpec spec = Get(name);
        return spec is PoscudaV1 ? PoscudaV1.WithEngine(engine) : spec;
    }
}
