using PosCuda.Shared.Protection;

namespace PosCuda.Testing;

/// <summary>What the spec makes of a clip, computed in memory: the expected bytes of an output the pipeline wrote.</summary>
public static class ProtectionOracle
{
    /// <summary>The protected bytes of <paramref name="source"/> (left untouched) under the keyring's active version.</summary>
    public static byte[] Expected(Keyring keyring, byte[] source, string label, string key, ProtectionParameters? parameters = null)
    {
        ArgumentNullException.ThrowIfNull(keyring);
        ArgumentNullException.ThrowIfNull(source);
        parameters ??= new ProtectionParameters();
        IProtectionSpec spec = ProtectionSpecs.Get(parameters.Spec);
        ClassPatch patch = spec.DeriveClassPatch(keyring.ActiveVersion.Secret, label, parameters);
        byte[] copy = (byte[])source.Clone();
        spec.Protect(copy, patch, parameters, key);
        return copy;
    }
}
