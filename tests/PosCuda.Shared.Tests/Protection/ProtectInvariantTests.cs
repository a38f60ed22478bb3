using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using PosCuda.Shared.Audio;
using PosCuda.Shared.Protection;
using PosCuda.Shared.Tests.Audio;
using PosCuda.Testing.Audio;

namespace PosCuda.Shared.Tests.Protection;

/// <summary>The byte-exact invariant of poscuda-v1, as a property over random WAV layouts, formats and parameters.</summary>
public sealed class ProtectInvariantTests
{
    private static readonly byte[] s_secret = Enumerable.Range(0, 32).Select(i => (byte)(i * 7)).ToArray();

    [Property(Arbitrary = [typeof(CodecArbitraries)], MaxTest = 300)]
    public Property Protect_AnyLayout_ChangesOnlyPatchSamplesAsANaiveConvolutionSays(CodecCase @case, PositiveInt tapsSeed, PositiveInt patchSeed, bool whole)
        => Holds(null, @case, tapsSeed, patchSeed, whole);

    /// <summary>The invariant for one case, with the spec convolving on <paramref name="engine"/> (null: the registry's default).</summary>
    /// <remarks>With an engine, the clip is protected twice, by <c>Protect</c> and by <c>ProtectMany</c>, and both must hold.</remarks>
    internal static Property Holds(IPatchEngine? engine, CodecCase @case, PositiveInt tapsSeed, PositiveInt patchSeed, bool whole)
    {
        int taps = 1 + (tapsSeed.Get % 120);
        int patch = 1 + (patchSeed.Get % 300);
        var parameters = new ProtectionParameters(taps, patch, blur: 0.05 + (tapsSeed.Get % 7), window: patch + (patchSeed.Get % 900), mode: whole ? PatchMode.Whole : PatchMode.Positional);
        IProtectionSpec spec = engine is null ? ProtectionSpecs.Get(parameters.Spec) : ProtectionSpecs.Get(parameters.Spec, engine);
        ClassPatch classPatch = spec.DeriveClassPatch(s_secret, $"class-{tapsSeed.Get % 5}", parameters);
        byte[] input = @case.Builder.Build(out int dataOffset);
        byte[] output = (byte[])input.Clone();

        ProtectResult result = spec.Protect(output, classPatch, parameters, "case.wav");
        bool manyAgrees = true;
        if (engine is not null)
        {
            byte[] batched = (byte[])input.Clone();
            ProtectOutcome[] outcomes = ((PoscudaV1)spec).ProtectMany([batched], ["case.wav"], classPatch, parameters);
            manyAgrees = outcomes[0].Result == result && batched.AsSpan().SequenceEqual(output);
        }

        WavLayout layout = WavReader.ReadLayout(input, "case.wav");
        long n = layout.FrameCount;
        (long start, long length) = whole || n <= patch ? (0L, n) : (Math.Min(classPatch.Position, n - patch), (long)patch);
        bool sameRange = result.PatchStart == start && result.PatchLength == length;

        // Every byte outside the patch's sample bytes is untouched.
        long patchFrom = dataOffset + (start * layout.BlockAlign);
        long patchTo = patchFrom + (length * layout.BlockAlign);
        bool outsideUntouched = input.AsSpan(0, (int)patchFrom).SequenceEqual(output.AsSpan(0, (int)patchFrom))
            && input.AsSpan((int)patchTo).SequenceEqual(output.AsSpan((int)patchTo));

        // Inside it, every channel's samples are the naive "same" convolution of the original samples.
        bool insideAsSpec = true;
        int h = (taps - 1) / 2;
        for (int channel = 0; channel < layout.Channels && insideAsSpec; channel++)
        {
            var x = new double[n];
            SampleCodec.Decode(input, layout, channel, 0, x);
            var y = new double[length];
            for (long i = 0; i < length; i++)
            {
                double acc = 0;
                for (int j = 0; j < taps; j++)
                {
                    long m = start + i + j - h;
                    acc += m >= 0 && m < n ? classPatch.Taps[j] * x[m] : 0;
                }

                y[i] = acc;
            }

            byte[] expected = WavBuilder.EncodeSamples(layout.Format, layout.ContainerBytes, y);
            for (long i = 0; i < length && insideAsSpec; i++)
            {
                long offset = patchFrom + (i * layout.BlockAlign) + (channel * layout.ContainerBytes);
                insideAsSpec = output.AsSpan((int)offset, layout.ContainerBytes).SequenceEqual(expected.AsSpan((int)(i * layout.ContainerBytes), layout.ContainerBytes));
            }
        }

        return (sameRange && outsideUntouched && insideAsSpec && manyAgrees && result.ClippedSamples >= 0)
            .Label($"{@case} k={taps} p={patch} W={parameters.Window} whole={whole}: range {sameRange}, outside {outsideUntouched}, inside {insideAsSpec}, batched {manyAgrees}");
    }
}
