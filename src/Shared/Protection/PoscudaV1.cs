using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using PosCuda.Shared.Audio;

namespace PosCuda.Shared.Protection;

/// <summary>The frozen spec <c>poscuda-v1</c> (docs/spec.md): one keyed low-pass patch per class.</summary>
public sealed partial class PoscudaV1 : IProtectionSpec
{
    /// <summary>The spec's name, recorded on every job and output.</summary>
    public const string SpecName = "poscuda-v1";

    // Above this many output samples the patch is convolved in chunks (whole-clip mode on long clips); an engine that
    // prefers batches (a device launch per call) gets larger chunks.
    private const int ChunkSamples = 16384;
    private const int BatchingChunkSamples = 1 << 20;

    private const double TwoPow32 = 4294967296.0;

    private static readonly byte[] s_classPrefix = "poscuda/v1/class/"u8.ToArray();
    private static readonly byte[] s_filterInfo = "poscuda/v1/filter"u8.ToArray();
    private static readonly byte[] s_positionInfo = "poscuda/v1/position"u8.ToArray();

    private readonly IPatchEngine _engine;

    private PoscudaV1(IPatchEngine engine)
    {
        _engine = engine;
    }

    /// <summary>The spec on the default engine (<see cref="CpuSimdPatchEngine"/>).</summary>
    public static PoscudaV1 Instance { get; } = new(CpuSimdPatchEngine.Instance);

    /// <summary>The engine this instance convolves on.</summary>
    public IPatchEngine Engine => _engine;

    /// <summary>The spec convolving on <paramref name="engine"/>; outputs are the same bytes on every engine.</summary>
    public static PoscudaV1 WithEngine(IPatchEngine engine)
    {
        ArgumentNullException.ThrowIfNull(engine);
        return ReferenceEquals(engine, CpuSimdPatchEngine.Instance) ? Instance : new PoscudaV1(engine);
    }

    /// <inheritdoc/>
    public string Name => SpecName;

    /// <inheritdoc/>
    public ClassPatch DeriveClassPatch(ReadOnlySpan<byte> secret, string label, ProtectionParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        int k = parameters.Taps;
        Span<byte> classKey = stackalloc byte[HMACSHA256.HashSizeInBytes];
        Span<byte> positionBytes = stackalloc byte[8];
        byte[] tapBytes = ArrayPool<byte>.Shared.Rent(4 * k);
        try
        {
            ClassKey.Derive(secret, s_classPrefix, label, classKey);
            HKDF.Expand(HashAlgorithmName.SHA256, classKey, tapBytes.AsSpan(0, 4 * k), s_filterInfo);
            HKDF.Expand(HashAlgorithmName.SHA256, classKey, positionBytes, s_positionInfo);

            float[] taps = new float[k];
            for (int j = 0; j < k; j++)
            {
                uint word = BinaryPrimitives.ReadUInt32LittleEndian(tapBytes.AsSpan(4 * j, 4));

                // In float64, then rounded once to float32.
                taps[j] = (float)(parameters.Blur * word / TwoPow32);
            }

            ulong slots = (ulong)(parameters.Window - parameters.PatchLength + 1);
            long position = (long)(BinaryPrimitives.ReadUInt64LittleEndian(positionBytes) % slots);
            return new ClassPatch(label, taps, position);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(classKey);
            CryptographicOperations.ZeroMemory(tapBytes.AsSpan(0, 4 * k));
            ArrayPool<byte>.Shared.Return(tapBytes);
        }
    }

    /// <inheritdoc/>
    public ProtectResult Protect(Span<byte> wavFile, ClassPatch patch, ProtectionParameters parameters, string objectKey)
    {
        ArgumentNullException.ThrowIfNull(objectKey);
        CheckPatch(patch, parameters);
        WavLayout layout = WavReader.ReadLayout(wavFile, objectKey);
        (long start, long length) = PatchRange(layout.FrameCount, patch.Position, parameters);
        return ProtectWindow(wavFile.Slice((int)layout.DataOffset, (int)layout.DataLength), 0, layout, patch, start, length);
    }

    /// <inheritdoc/>
    /// <remarks>The patch, and the <c>h</c> frames before it and <c>k - 1 - h</c> after it that its filter reads (inside the clip).</remarks>
    public ProtectionRegion PlanRegion(WavLayout layout, ClassPatch patch, ProtectionParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(layout);
        CheckPatch(patch, parameters);
        (long start, long length) = PatchRange(layout.FrameCount, patch.Position, parameters);
        int k = patch.Taps.Length;
        int h = (k - 1) / 2;
        long first = Math.Max(0, start - h);
        long end = Math.Min(layout.FrameCount, start + length + (k - 1 - h));
        return length == 0 ? new ProtectionRegion(start, 0, start, 0) : new ProtectionRegion(first, end - first, start, length);
    }

    /// <inheritdoc/>
    public ProtectResult ProtectRegion(Span<byte> window, ProtectionRegion region, WavLayout layout, ClassPatch patch, ProtectionParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(region);
        ArgumentNullException.ThrowIfNull(layout);
        CheckPatch(patch, parameters);
        return ProtectWindow(window, region.ReadFirstFrame, layout, patch, region.ChangeFirstFrame, region.ChangeFrameCount);
    }

    // Patches frames [start, start + length) of every channel; window holds the data chunk's frames from windowFirstFrame on.
    private ProtectResult ProtectWindow(Span<byte> window, long windowFirstFrame, WavLayout layout, ClassPatch patch, long start, long length)
    {
        if (length == 0)
        {
            return new ProtectResult(start, 0, 0);
        }

        int k = patch.Taps.Length;
        int chunk = (int)Math.Min(length, _engine.PrefersBatches ? BatchingChunkSamples : ChunkSamples);
        double[] taps = ArrayPool<double>.Shared.Rent(k);
        double[] input = ArrayPool<double>.Shared.Rent(chunk + k - 1);
        double[] output = ArrayPool<double>.Shared.Rent(chunk);
        try
        {
            for (int j = 0; j < k; j++)
            {
                taps[j] = patch.Taps[j];
            }

            long clipped = 0;
            for (int channel = 0; channel < layout.Channels; channel++)
            {
                clipped += ProtectChannel(
                    window, windowFirstFrame, layout, channel, start, length,
                    taps.AsSpan(0, k), input.AsSpan(0, chunk + k - 1), output.AsSpan(0, chunk));
            }

            return new ProtectResult(start, length, clipped);
        }
        finally
        {
            ArrayPool<double>.Shared.Return(taps);
            ArrayPool<double>.Shared.Return(input);
            ArrayPool<double>.Shared.Return(output);
        }
    }

    /// <summary>The frames a clip of <paramref name="frameCount"/> frames gets patched at: first frame and count.</summary>
    public static (long Start, long Length) PatchRange(long frameCount, long position, ProtectionParameters parameters)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(frameCount);
        ArgumentNullException.ThrowIfNull(parameters);
        if (parameters.Mode == PatchMode.Whole || frameCount <= parameters.PatchLength)
        {
            return (0, frameCount);
        }

        return (Math.Min(position, frameCount - parameters.PatchLength), parameters.PatchLength);
    }

    private static void CheckPatch(ClassPatch patch, ProtectionParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(patch);
        ArgumentNullException.ThrowIfNull(parameters);
        if (patch.Taps.Length != parameters.Taps)
        {
            throw new ArgumentException(
                $"The patch has {patch.Taps.Length} taps but the parameters say {parameters.Taps}; it was derived with other parameters.",
                nameof(patch));
        }

        if (patch.Position < 0 || patch.Position > parameters.Window - parameters.PatchLength)
        {
            throw new ArgumentException(
                $"The patch position {patch.Position} is outside [0, {parameters.Window - parameters.PatchLength}].", nameof(patch));
        }
    }

    /// <summary>Patches one channel's frames <c>[start, start + length)</c> chunk by chunk; returns the clipped count.</summary>
    private long ProtectChannel(
        Span<byte> window, long windowFirstFrame, WavLayout layout, int channel, long start, long length,
        ReadOnlySpan<double> taps, Span<double> input, Span<double> output)
    {
        int k = taps.Length;
        int h = (k - 1) / 2;
        int context = k - 1;
        long clipped = 0;
        long done = 0;
        while (done < length)
        {
            int count = (int)Math.Min(length - done, output.Length);
            Span<double> x = input[..(count + context)];
            Span<double> y = output[..count];
            long first = start + done - h;
            if (done == 0)
            {
                SampleCodec.Decode(window, windowFirstFrame, layout, channel, first, x);
            }
            else
            {
                // The previous chunk's last k-1 inputs start this one; they are original samples, but part of
                // them has been overwritten in the file since, so they are carried over, never re-read.
                input.Slice(output.Length, context).CopyTo(x);
                SampleCodec.Decode(window, windowFirstFrame, layout, channel, first + context, x[context..]);
            }

            _engine.Convolve(taps, x, [new PatchRegion(0, 0, count)], y);
            clipped += SampleCodec.Encode(window, windowFirstFrame, layout, channel, start + done, y);
            done += count;
        }

        return clipped;
    }
}
