using System.Security.Cryptography;
using FsCheck;
using FsCheck.Xunit;
using PosCuda.Shared.Protection;
using PosCuda.Shared.Tests.Audio;
using PosCuda.Testing.Audio;

namespace PosCuda.Shared.Tests.Protection;

/// <summary>The contract every <see cref="IPatchEngine"/> keeps: poscuda-v1's bytes, exactly, whichever engine convolves.</summary>
/// <remarks>Run once per engine by a sealed subclass: the spec vectors, the byte-exact property, the SciPy conformance files.</remarks>
public abstract class PatchEngineContractTests
{
    private static readonly string s_vectors = Path.Combine(AppContext.BaseDirectory, "TestData", "vectors");
    private static readonly string s_conformance = Path.Combine(AppContext.BaseDirectory, "TestData", "wav-conformance");

    /// <summary>The engine under test.</summary>
    protected abstract IPatchEngine Engine { get; }

    public static IEnumerable<object[]> EndToEndVectors => SpecVectorTests.EndToEndVectors;

    [Theory]
    [MemberData(nameof(EndToEndVectors))]
    public void Protect_SpecVector_MatchesPinnedOutput(
        string file, string key, string label, int taps, double blur, int window, int patchLength, PatchMode mode,
        long start, long length, long clipped, string outputSha256)
    {
        var parameters = new ProtectionParameters(taps, patchLength, blur, window, mode);
        PoscudaV1 spec = PoscudaV1.WithEngine(Engine);
        ClassPatch patch = spec.DeriveClassPatch(SpecVectorTests.Secret(key), label, parameters);
        byte[] wav = File.ReadAllBytes(Path.Combine(s_vectors, file));
        byte[] batched = (byte[])wav.Clone();

        ProtectResult result = spec.Protect(wav, patch, parameters, file);
        ProtectOutcome[] outcomes = spec.ProtectMany([batched], [file], patch, parameters);

        Assert.Equal(new ProtectResult(start, length, clipped), result);
        Assert.Equal(outputSha256, Convert.ToHexStringLower(SHA256.HashData(wav)));
        Assert.Equal(result, outcomes[0].Result);
        Assert.Equal(outputSha256, Convert.ToHexStringLower(SHA256.HashData(batched)));
    }

    [Property(Arbitrary = [typeof(CodecArbitraries)], MaxTest = 150)]
    public Property Protect_AnyLayout_ByteExactAsANaiveConvolutionSays(CodecCase @case, PositiveInt tapsSeed, PositiveInt patchSeed, bool whole)
        => ProtectInvariantTests.Holds(Engine, @case, tapsSeed, patchSeed, whole);

    [Theory]
    [InlineData(PatchMode.Positional)]
    [InlineData(PatchMode.Whole)]
    public void ProtectMany_SciPyConformanceFiles_SameBytesAndRejectionsAsTheCpuSpec(PatchMode mode)
    {
        var parameters = new ProtectionParameters(mode: mode);
        ClassPatch patch = PoscudaV1.Instance.DeriveClassPatch(SpecVectorTests.SecretA, "test", parameters);
        string[] names = [.. Directory.GetFiles(s_conformance, "*.wav").Select(Path.GetFileName).Order(StringComparer.Ordinal)!];
        byte[][] originals = [.. names.Select(name => File.ReadAllBytes(Path.Combine(s_conformance, name)))];
        byte[][] batched = [.. originals.Select(bytes => (byte[])bytes.Clone())];

        ProtectOutcome[] outcomes = PoscudaV1.WithEngine(Engine).ProtectMany([.. batched.Select(b => (Memory<byte>)b)], names, patch, parameters);

        int protectedFiles = 0;
        for (int i = 0; i < names.Length; i++)
        {
            byte[] expected = (byte[])originals[i].Clone();
            try
            {
                ProtectResult result = PoscudaV1.Instance.Protect(expected, patch, parameters, names[i]);
                Assert.Equal(result, outcomes[i].Result);
                Assert.Equal(expected, batched[i]);
                Assert.NotEqual(originals[i], batched[i]);
                protectedFiles++;
            }
            catch (InvalidObjectException e)
            {
                Assert.Null(outcomes[i].Result);
                Assert.Equal(e.Reason, outcomes[i].Failure?.Reason);
                Assert.Equal(names[i], outcomes[i].Failure?.ObjectKey);
                Assert.Equal(originals[i], batched[i]);
            }
        }

        // The folder's README: 10 files are protected (the two RF64 files included), 12 rejected.
        Assert.Equal(10, protectedFiles);
    }

    [Fact]
    public void ProtectMany_WholeModeClipsPastTheGatherLimit_SameBytesAsTheCpuSpec()
    {
        // 70,000 stereo frames in whole mode: past what ProtectMany gathers, so protected on its own; beside it a short clip.
        var random = new Random(7);
        byte[] samples = new byte[70_000 * 4];
        random.NextBytes(samples);
        byte[] longClip = new WavBuilder { Channels = 2, Data = samples }.Build(out _);
        byte[] shortClip = new WavBuilder { Data = samples[..2000] }.Build(out _);
        var parameters = new ProtectionParameters(taps: 33, mode: PatchMode.Whole);
        ClassPatch patch = PoscudaV1.Instance.DeriveClassPatch(SpecVectorTests.SecretB, "long", parameters);
        byte[][] expected = [(byte[])longClip.Clone(), (byte[])shortClip.Clone()];
        ProtectResult[] expectedResults = [.. expected.Select(clip => PoscudaV1.Instance.Protect(clip, patch, parameters, "clip.wav"))];
        byte[][] batched = [(byte[])longClip.Clone(), (byte[])shortClip.Clone()];

        ProtectOutcome[] outcomes = PoscudaV1.WithEngine(Engine).ProtectMany([batched[0], batched[1]], ["long.wav", "short.wav"], patch, parameters);

        Assert.Equal(new ProtectResult(0, 70_000, expectedResults[0].ClippedSamples), outcomes[0].Result);
        Assert.Equal(expectedResults[1], outcomes[1].Result);
        Assert.Equal(expected[0], batched[0]);
        Assert.Equal(expected[1], batched[1]);
    }

    [Fact]
    public void Convolve_RandomRegionsLongAndShort_BitIdenticalToScalarLoop()
    {
        var random = new Random(20261203);
        for (int trial = 0; trial < 12; trial++)
        {
            int k = trial switch { 0 => 1, 1 => 2040, _ => random.Next(1, 200) };
            int count = 1 + random.Next(60);
            var regions = new PatchRegion[count];
            int inputs = 0;
            int outputs = 0;
            for (int r = 0; r < count; r++)
            {
                // Mostly patch-sized, some whole-clip sized (longer than a small tile), some of one sample.
                int length = (r % 13) switch { 0 => 1, 1 => random.Next(20_000, 70_000), _ => random.Next(1, 600) };
                regions[r] = new PatchRegion(inputs + random.Next(3), outputs, length);
                inputs = regions[r].InputOffset + length + k - 1;
                outputs += length;
            }

            double[] x = RandomValues(random, inputs, scale: true);
            double[] taps = RandomValues(random, k, scale: false);
            double[] y = new double[outputs];

            Engine.Convolve(taps, x, regions, y);

            foreach (PatchRegion region in regions)
            {
                for (int n = 0; n < region.Length; n++)
                {
                    double acc = 0;
                    for (int j = 0; j < k; j++)
                    {
                        acc += taps[j] * x[region.InputOffset + n + j];
                    }

                    Assert.Equal(BitConverter.DoubleToInt64Bits(acc), BitConverter.DoubleToInt64Bits(y[region.OutputOffset + n]));
                }
            }
        }
    }

    [Fact]
    public void Convolve_SumsInOrder_NotReassociated()
    {
        // 1e16 + 1 - 1e16 is 0 summed in order from j = 0, but 1 under a pairwise or reversed sum.
        double[] taps = [1e16, 1, -1e16, 0];
        double[] x = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1];
        double[] y = new double[8];

        Engine.Convolve(taps, x, [new PatchRegion(0, 0, 8)], y);

        Assert.All(y, value => Assert.Equal(0.0, value));
    }

    [Fact]
    public void Convolve_ProductRoundedBeforeTheAdd_NotFused()
    {
        // acc = -0.30000000000000004, then acc + 0.1 * 3: the rounded product equals -acc, so the sum is 0;
        // a fused multiply-add keeps the product's exact low bits and gives about -2.8e-17.
        double[] taps = [1, 0.1];
        double[] x = [-0.30000000000000004, 3];
        double[] y = new double[1];
        Assert.NotEqual(0.0, Math.FusedMultiplyAdd(0.1, 3, -0.30000000000000004));

        Engine.Convolve(taps, x, [new PatchRegion(0, 0, 1)], y);

        Assert.Equal(0L, BitConverter.DoubleToInt64Bits(y[0]));
    }

    private static double[] RandomValues(Random random, int count, bool scale)
    {
        double[] values = new double[count];
        for (int i = 0; i < count; i++)
        {
            values[i] = scale ? (random.NextDouble() * 2 - 1) * Math.Pow(2, random.Next(-30, 4)) : (float)(random.NextDouble() * 0.01);
        }

        return values;
    }
}
