namespace PosCuda.Shared.Audio;

/// <summary>Where the samples of a WAV file are and how they are stored.</summary>
/// <param name="Format">The sample encoding.</param>
/// <param name="Channels">Interleaved channels per frame.</param>
/// <param name="SampleRate">Frames per second.</param>
/// <param name="ContainerBytes">Bytes per sample (<c>BlockAlign / Channels</c>); B = 8 * ContainerBytes.</param>
/// <param name="BlockAlign">Bytes per frame.</param>
/// <param name="DataOffset">Offset of the first sample byte in the file.</param>
/// <param name="DataLength">Bytes of sample data (a multiple of <paramref name="BlockAlign"/>).</param>
public sealed record WavLayout(
    SampleFormat Format,
    int Channels,
    int SampleRate,
    int ContainerBytes,
    int BlockAlign,
    long DataOffset,
    long DataLength)
{
    /// <summary>The number of frames N.</summary>
    public long FrameCount => DataLength / BlockAlign;
}
