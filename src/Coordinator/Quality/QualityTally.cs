using PosCuda.Shared.Analysis;

namespace PosCuda.Coordinator.Quality;

/// <summary>Running figures over a set of clip comparisons (one class, or all), in memory that does not grow with the set.</summary>
/// <remarks>Not thread-safe; <see cref="QualityAnalysis"/> adds under a lock.</remarks>
public sealed class QualityTally
{
    /// <summary>Creates a tally whose log-mel statistics have <paramref name="bands"/> dimensions.</summary>
    public QualityTally(int bands)
    {
        CleanLogMel = new RunningMoments(bands);
        ProtectedLogMel = new RunningMoments(bands);
    }

    /// <summary>Clips compared.</summary>
    public long Clips { get; private set; }

    /// <summary>Clips with no sample changed.</summary>
    public long Unchanged { get; private set; }

    /// <summary>Changed clips whose changed span lies in near-silence.</summary>
    public long SilentPatches { get; private set; }

    /// <summary>Changed clips whose changed span is below the absolute near-silence level.</summary>
    public long QuietByLevel { get; private set; }

    /// <summary>Changed clips whose changed span is far below the clip's own RMS.</summary>
    public long QuietByContrast { get; private set; }

    /// <summary>Channel samples newly at full scale.</summary>
    public long NewlyClipped { get; private set; }

    /// <summary>Clips with at least one newly clipped sample.</summary>
    public long ClipsWithClipping { get; private set; }

    /// <summary>Whole-clip SNR of changed clips.</summary>
    public StreamingStatistic Snr { get; } = new();

    /// <summary>Segmental SNR over the changed span, changed clips.</summary>
    public StreamingStatistic SegmentalSnrPatch { get; } = new();

    /// <summary>Segmental SNR over the whole clip, changed clips.</summary>
    public StreamingStatistic SegmentalSnrClip { get; } = new();

    /// <summary>Log-spectral distance over the whole clip, changed clips.</summary>
    public StreamingStatistic LsdClip { get; } = new(0, 100, 0.05);

    /// <summary>Log-spectral distance over the frames of the changed span, changed clips.</summary>
    public StreamingStatistic LsdPatch { get; } = new(0, 100, 0.05);

    /// <summary>RMS of the clean signal over the changed span (dBFS), changed clips: how quiet the patched places are.</summary>
    public StreamingStatistic PatchLevel { get; } = new(-120, 0, 0.5);

    /// <summary>Log-mel frames of the clean clips.</summary>
    public RunningMoments CleanLogMel { get; }

    /// <summary>Log-mel frames of the protected clips.</summary>
    public RunningMoments ProtectedLogMel { get; }

    /// <summary>The fraction of changed clips whose changed span lies in near-silence (NaN when none changed).</summary>
    public double SilentPatchFraction => Clips == Unchanged ? double.NaN : (double)SilentPatches / (Clips - Unchanged);

    /// <summary>The log-mel Fréchet distance between the clean and protected frames.</summary>
    public double LogMelFrechet() => CleanLogMel.Count < 2 || ProtectedLogMel.Count < 2
        ? double.NaN
        : FrechetDistance.Compute(CleanLogMel, ProtectedLogMel);

    /// <summary>Adds one comparison.</summary>
    public void Add(ClipComparer.Result result)
    {
        ArgumentNullException.ThrowIfNull(result);
        ClipComparison c = result.Comparison;
        Clips++;
        CleanLogMel.AddRows(result.CleanLogMel);
        ProtectedLogMel.AddRows(result.ProtectedLogMel);
        if (!c.Changed)
        {
            Unchanged++;
            return;
        }

        Snr.Add(c.SnrDb);
        SegmentalSnrPatch.Add(c.SegmentalSnrPatchDb);
        SegmentalSnrClip.Add(c.SegmentalSnrClipDb);
        LsdClip.Add(c.LsdClipDb);
        LsdPatch.Add(c.LsdPatchDb);
        NewlyClipped += c.NewlyClipped;
        ClipsWithClipping += c.NewlyClipped > 0 ? 1 : 0;
        PatchLevel.Add(c.SpanRmsDbfs);
        SilentPatches += c.SilentPatch ? 1 : 0;
        QuietByLevel += c.QuietByLevel ? 1 : 0;
        QuietByContrast += c.QuietByContrast ? 1 : 0;
    }
}
