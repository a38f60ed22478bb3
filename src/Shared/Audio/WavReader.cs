namespace PosCuda.Shared.Audio;

/// <summary>Parses the structure of a RIFF WAVE file without touching its samples.</summary>
public static class WavReader
{
    /// <summary>Reads the layout of <paramref name="file"/>.</summary>
    /// <exception cref="InvalidObjectException">The bytes are not a supported, well-formed WAV file.</exception>
    public static WavLayout ReadLayout(ReadOnlySpan<byte> file, string objectKey)
        => throw new NotImplementedException();
}
