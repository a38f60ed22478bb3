namespace PosCuda.Shared.Protection;

/// <summary>The names of the patch modes, as the command line, the ledger and reports write them.</summary>
public static class PatchModeNames
{
    /// <summary>The name of <see cref="PatchMode.Positional"/>.</summary>
    public const string Positional = "positional";

    /// <summary>The name of <see cref="PatchMode.Whole"/>.</summary>
    public const string Whole = "whole";

    /// <summary>The name of <paramref name="mode"/>.</summary>
    public static string ToName(PatchMode mode) => mode switch
    {
        PatchMode.Positional => Positional,
        PatchMode.Whole => Whole,
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "Unknown patch mode."),
    };

    /// <summary>The mode named <paramref name="name"/>, or null when it names none.</summary>
    public static PatchMode? TryParse(string? name) => name switch
    {
        Positional => PatchMode.Positional,
        Whole => PatchMode.Whole,
        _ => null,
    };
}
