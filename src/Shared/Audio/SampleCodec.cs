namespace PosCuda.Shared.Audio;

/// <summary>Decodes and encodes runs of one channel's samples in place, per <c>poscuda-v1</c>.</summary>
public static class SampleCodec
{
    /// <summary>
    /// Decodes frames <c>[firstFrame, firstFrame + destination.Length)</c> of <paramref name="channel"/> to float64;
    /// frames outside <c>[0, N)</c> decode as 0.
    /// </summary>
    public static void Decode(ReadOnlySpan<byte> file, WavLayout layout, int channel, long firstFrame, Span<double> destination)
        => throw new NotImplementedException();

    /// <summary>
    /// Encodes <paramref name="values"/> into frames <c>[firstFrame, firstFrame + values.Length)</c> of
    /// <paramref name="channel"/>, rounding half away from zero and clamping.
    /// </summary>
    /// <returns>The number of samples clamped (or, for float, beyond full scale).</returns>
    public static int Encode(Span<byte> file, WavLayout layout, int channel, long firstFrame, ReadOnlySpan<double> values)
        => throw new NotImplementedException();
}
