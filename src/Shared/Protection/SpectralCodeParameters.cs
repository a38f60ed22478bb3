using System.Globalization;

namespace PosCuda.Shared.Protection;

/// <summary>The parameters of <c>poscuda-v2</c>'s keyed spectral code (docs/spec.md), validated at construction.</summary>
/// <remarks>poscuda-v1 ignores them, as v2 ignores v1's taps, patch, blur, window and mode.</remarks>
public sealed record SpectralCodeParameters
{
    /// <summary>The defaults, chosen from the measurements in docs/efficacy.md.</summary>
    public static SpectralCodeParameters Default { get; } = new();

    public SpectralCodeParameters(
        int slots = 8, int weight = 4, double minFrequency = 0, double maxFrequency = 4000,
        double targetSnr = 21, double depth = 0.99)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(slots, 2);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(slots, 256);
        ArgumentOutOfRangeException.ThrowIfLessThan(weight, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(weight, slots);
        if (!double.IsFinite(minFrequency) || minFrequency < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(minFrequency), minFrequency, "The code's lowest frequency must be finite and >= 0 Hz.");
        }

        if (!double.IsFinite(maxFrequency) || maxFrequency <= minFrequency)
        {
            throw new ArgumentOutOfRangeException(nameof(maxFrequency), maxFrequency, "The code's highest frequency must be finite and above its lowest.");
        }

        if (!double.IsFinite(targetSnr) || targetSnr < 0 || targetSnr > 120)
        {
            throw new ArgumentOutOfRangeException(nameof(targetSnr), targetSnr, "The target SNR must be in [0, 120] dB.");
        }

        if (!double.IsFinite(depth) || depth <= 0 || depth > 1)
        {
            throw new ArgumentOutOfRangeException(nameof(depth), depth, "The depth must be in (0, 1].");
        }

        Slots = slots;
        Weight = weight;
        MinFrequency = minFrequency;
        MaxFrequency = maxFrequency;
        TargetSnr = targetSnr;
        Depth = depth;
    }

    /// <summary>S: mel-spaced frequency slots between the lowest and highest frequency.</summary>
    public int Slots { get; }

    /// <summary>w: slots in each class's code.</summary>
    public int Weight { get; }

    /// <summary>f_lo in Hz.</summary>
    public double MinFrequency { get; }

    /// <summary>f_hi in Hz (capped at half the sample rate of each clip).</summary>
    public double MaxFrequency { get; }

    /// <summary>The SNR, in dB, the perturbation's energy budget is set to in each group of frames.</summary>
    public double TargetSnr { get; }

    /// <summary>d: the largest attenuation factor of a coded bin (0.99: -40 dB).</summary>
    public double Depth { get; }

    /// <summary>The canonical text the ledger keeps, e.g. <c>slots=8;weight=4;fmin=0;fmax=4000;snr=21;depth=0.99</c>.</summary>
    public string ToText() => string.Create(
        CultureInfo.InvariantCulture,
        $"slots={Slots};weight={Weight};fmin={MinFrequency:R};fmax={MaxFrequency:R};snr={TargetSnr:R};depth={Depth:R}");

    /// <summary>Reads <see cref="ToText"/>'s form; an empty text gives the defaults.</summary>
    /// <exception cref="FormatException">The text is not of that form.</exception>
    public static SpectralCodeParameters Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length == 0)
        {
            return Default;
        }

        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string part in text.Split(';'))
        {
            int eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0 || !values.TryAdd(part[..eq], part[(eq + 1)..]))
            {
                throw new FormatException($"Not a spectral code parameter list: '{text}'.");
            }
        }

        double Number(string name, double fallback) => values.TryGetValue(name, out string? v)
            ? double.Parse(v, NumberStyles.Float, CultureInfo.InvariantCulture)
            : fallback;

        var d = Default;
        return new SpectralCodeParameters(
            (int)Number("slots", d.Slots), (int)Number("weight", d.Weight), Number("fmin", d.MinFrequency),
            Number("fmax", d.MaxFrequency), Number("snr", d.TargetSnr), Number("depth", d.Depth));
    }
}
