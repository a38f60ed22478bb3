namespace PosCuda.Shared.Audio;

/// <summary>How one sample is stored in a WAV data chunk.</summary>
public enum SampleFormat
{
    /// <summary>8-bit unsigned integer PCM, offset 128.</summary>
    UnsignedPcm8,

    /// <summary>Signed little-endian integer PCM of 2 or more bytes.</summary>
    SignedPcm,

    /// <summary>IEEE 754 float, 4 or 8 bytes.</summary>
    IeeeFloat,
}
