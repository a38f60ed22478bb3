using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using PosCuda.Shared.Audio;

namespace PosCuda.Shared.Protection;

/// <summary>
/// The spec <c>poscuda-v2</c> (docs/spec.md): a keyed spectral code. Each class attenuates its own keyed set of
/// mel-spaced frequency slots throughout the clip, as deeply as a per-clip energy budget allows, in a short-time
/// Fourier domain, so the cue is present in every frame of a clip of any length and survives cropping.
/// </summary>
public sealed class PoscudaV2 : IProtectionSpec
{
    /// <summary>The spec's name, recorded on every job and output.</summary>
    public const string SpecName = "poscuda-v2";

    private static readonly byte[] s_classPrefix = "poscuda/v2/class/"u8.ToArray();
    private static readonly byte[] s_codeInfo = "poscuda/v2/code"u8.ToArray();

    private PoscudaV2()
    {
    }

    /// <summary>The one instance.</summary>
    public static PoscudaV2 Instance { get; } = new();

    /// <inheritdoc/>
    public string Name => SpecName;

    /// <inheritdoc/>
    public ClassPatch DeriveClassPatch(ReadOnlySpan<byte> secret, string label, ProtectionParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        int slots = parameters.Code.Slots;
        Span<byte> classKey = stackalloc byte[HMACSHA256.HashSizeInBytes];
        byte[] codeBytes = new byte[4 * slots];
        try
        {
            ClassKey.Derive(secret, s_classPrefix, label, classKey);
            HKDF.Expand(HashAlgorithmName.SHA256, classKey, codeBytes, s_codeInfo);

            // A keyed Fisher-Yates shuffle of the slots; the first w form the code.
            int[] order = new int[slots];
            for (int i = 0; i < slots; i++)
            {
                order[i] = i;
            }

            for (int i = slots - 1; i >= 1; i--)
            {
                uint word = BinaryPrimitives.ReadUInt32LittleEndian(codeBytes.AsSpan(4 * i, 4));
                int j = (int)(word % (uint)(i + 1));
                (order[i], order[j]) = (order[j], order[i]);
            }

            int[] code = order[..parameters.Code.Weight];
            Array.Sort(code);
            return new ClassPatch(label, [], 0) { Code = code };
        }
        finally
        {
            CryptographicOperations.ZeroMemory(classKey);
            CryptographicOperations.ZeroMemory(codeBytes);
        }
    }

    /// <inheritdoc/>
    public ProtectResult Protect(Span<byte> wavFile, ClassPatch patch, ProtectionParameters parameters, string objectKey)
    {
        ArgumentNullException.ThrowIfNull(patch);
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(objectKey);
        if (patch.Code.Length != parameters.Code.Weight)
        {
            throw new ArgumentException(
                $"The patch has a code of {patch.Code.Length} slots but the parameters say {parameters.Code.Weight}; it was derived with other parameters.",
                nameof(patch));
        }

        WavLayout layout = WavReader.ReadLayout(wavFile, objectKey);
        long frames = layout.FrameCount;
        if (frames == 0)
        {
            return new ProtectResult(0, 0, 0);
        }

        if (frames > Array.MaxLength / 2)
        {
            throw new InvalidObjectException(objectKey, $"{frames} frames per channel is more than poscuda-v2 processes in memory.");
        }

        var filter = SpectralCodeFilter.For(layout.SampleRate, patch.Code, parameters.Code);
        int n = (int)frames;
        double[] x = ArrayPool<double>.Shared.Rent(n);
        double[] y = ArrayPool<double>.Shared.Rent(n);
        try
        {
            for (int channel = 0; channel < layout.Channels; channel++)
            {
                Span<double> original = x.AsSpan(0, n);
                Span<double> protectedSamples = y.AsSpan(0, n);
                SampleCodec.Decode(wavFile, layout, channel, 0, original);
                filter.Perturbation(original, protectedSamples);

                // A sample whose protected value would leave the format's range keeps its original value.
                SampleCodec.AddWithinRange(layout, original, protectedSamples);

                // Nothing is clamped: a float sample already beyond full scale is kept as it is, not counted.
                SampleCodec.Encode(wavFile, layout, channel, 0, protectedSamples);
            }

            return new ProtectResult(0, frames, 0);
        }
        finally
        {
            ArrayPool<double>.Shared.Return(x);
            ArrayPool<double>.Shared.Return(y);
        }
    }

    /// <inheritdoc/>
    /// <remarks>Steps of whole groups of 512 STFT frames (at least one, as many as fit in <paramref name="stepFrames"/>).</remarks>
    public ProtectionStream OpenStream(WavLayout layout, ClassPatch patch, ProtectionParameters parameters, long stepFrames)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(patch);
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentOutOfRangeException.ThrowIfLessThan(stepFrames, 1);
        CheckCode(patch, parameters);
        return new SpectralCodeStream(layout, SpectralCodeFilter.For(layout.SampleRate, patch.Code, parameters.Code), stepFrames);
    }

    private static void CheckCode(ClassPatch patch, ProtectionParameters parameters)
    {
        if (patch.Code.Length != parameters.Code.Weight)
        {
            throw new ArgumentException(
                $"The patch has a code of {patch.Code.Length} slots but the parameters say {parameters.Code.Weight}; it was derived with other parameters.",
                nameof(patch));
        }
    }
}
