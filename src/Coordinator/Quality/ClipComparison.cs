namespace PosCuda.Coordinator.Quality;

/// <summary>What protection changed in one clip (definitions in docs/quality-and-audit.md).</summary>
/// <param name="Key">The object key, relative to both prefixes.</param>
/// <param name="Label">Its class.</param>
/// <param name="Changed">Whether any sample differs.</param>
/// <param name="SpanStart">First differing frame (0 when unchanged).</param>
/// <param name="SpanLength">Frames from the first to the last differing one, inclusive (0 when unchanged).</param>
/// <param name="SnrDb">Whole-clip SNR (+infinity when unchanged).</param>
/// <param name="SegmentalSnrPatchDb">Segmental SNR over the changed span.</param>
/// <param name="SegmentalSnrClipDb">Segmental SNR over the whole clip.</param>
/// <param name="LsdClipDb">Log-spectral distance over every frame of the clip.</param>
/// <param name="LsdPatchDb">Log-spectral distance over the frames that overlap the changed span.</param>
/// <param name="NewlyClipped">Channel samples at full scale in the protected clip that were not in the clean one.</param>
/// <param name="SpanRmsDbfs">RMS of the clean signal over the changed span, dBFS.</param>
/// <param name="ClipRmsDbfs">RMS of the whole clean clip, dBFS.</param>
/// <param name="QuietByLevel">Whether the clean changed span is below the absolute near-silence level.</param>
/// <param name="QuietByContrast">Whether the clean changed span is far enough below the clip's own RMS.</param>
/// <param name="Resampled">Whether either clip was resampled to the analysis rate.</param>
public sealed record ClipComparison(
    string Key,
    string Label,
    bool Changed,
    int SpanStart,
    int SpanLength,
    double SnrDb,
    double SegmentalSnrPatchDb,
    double SegmentalSnrClipDb,
    double LsdClipDb,
    double LsdPatchDb,
    long NewlyClipped,
    double SpanRmsDbfs,
    double ClipRmsDbfs,
    bool QuietByLevel,
    bool QuietByContrast,
    bool Resampled)
{
    /// <summary>Whether the changed span lies in near-silence (either test).</summary>
    public bool SilentPatch => QuietByLevel || QuietByContrast;
}
