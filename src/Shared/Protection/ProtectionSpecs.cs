namespace PosCuda.Shared.Protection;

/// <summary>The registry of spec versions; a job picks one by name.</summary>
public static class ProtectionSpecs
{
    /// <summary>Returns the spec called <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">No such spec.</exception>
    public static IProtectionSpec Get(string name) => throw new NotImplementedException();
}
