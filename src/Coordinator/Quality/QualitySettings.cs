namespace PosCuda.Coordinator.Quality;

/// <summary>The choices behind the quality figures.</summary>
/// <param name="SegmentSeconds">Segmental-SNR frame length (20 ms).</param>
/// <param name="SilenceDbfs">A changed span whose clean RMS is below this is in near-silence (-40 dBFS).</param>
/// <param name="SilenceBelowClipDb">... or more than this many dB below the clip's RMS (30 dB).</param>
public sealed record QualitySettings(double SegmentSeconds = 0.020, double SilenceDbfs = -40, double SilenceBelowClipDb = 30)
{
    /// <summary>Whether a changed span of clean RMS <paramref name="spanDbfs"/> is below the absolute near-silence level.</summary>
    public bool IsQuietByLevel(double spanDbfs) => spanDbfs < SilenceDbfs;

    /// <summary>Whether a changed span of clean RMS <paramref name="spanDbfs"/> is more than <see cref="SilenceBelowClipDb"/>
    /// below its clip's RMS <paramref name="clipDbfs"/>.</summary>
    public bool IsQuietByContrast(double spanDbfs, double clipDbfs) => spanDbfs < clipDbfs - SilenceBelowClipDb;
}
