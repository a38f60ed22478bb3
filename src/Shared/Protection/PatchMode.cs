namespace PosCuda.Shared.Protection;

/// <summary>Where the keyed patch goes in a clip.</summary>
public enum PatchMode
{
    /// <summary>PosCUDA: a patch of <c>p</c> samples at the class's keyed position.</summary>
    Positional,

    /// <summary>The paper's "without position" baseline: the whole clip.</summary>
    Whole,
}
