namespace PosCuda.Shared.Protection;

/// <summary>One version of the protection spec: how a class key becomes a patch, and how a patch changes a clip.</summary>
public interface IProtectionSpec
{
    /// <summary>The spec's name, e.g. <c>poscuda-v1</c>; recorded on every job and output.</summary>
    string Name { get; }

    /// <summary>Derives the taps and position of <paramref name="label"/>'s class from a key version's secret.</summary>
    ClassPatch DeriveClassPatch(ReadOnlySpan<byte> secret, string label, ProtectionParameters parameters);

    /// <summary>Protects a whole WAV file in place; only the patch's sample bytes change.</summary>
    /// <exception cref="InvalidObjectException">The file is not a supported WAV file.</exception>
    ProtectResult Protect(Span<byte> wavFile, ClassPatch patch, ProtectionParameters parameters, string objectKey);
}
