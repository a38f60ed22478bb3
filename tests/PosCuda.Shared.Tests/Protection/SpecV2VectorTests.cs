using System.Security.Cryptography;
using PosCuda.Shared.Audio;
using PosCuda.Shared.Protection;

namespace PosCuda.Shared.Tests.Protection;

/// <summary>Known-answer vectors of <c>poscuda-v2</c>, computed by the independent Python reference.</summary>
/// <remarks>
/// Every code and hash here came from <c>tools/poscuda_reference.py --spec poscuda-v2</c> (derive, protect-file), so
/// each vector is confirmed by two implementations written separately. Inputs: the committed files in
/// TestData/vectors (8, 16 and 44.1 kHz; the first rows with the parameters of the first draft, S=16, w=8, 300-3800 Hz,
/// the last three with today's defaults, S=8, w=4, 0-4000 Hz; 8-bit, 16-bit, 24-bit stereo, float32; loud16.wav is a hard-clipped tone
/// mixture with 2,130 samples at full scale, where the keep-the-original rule holds back 578 samples).
/// </remarks>
public sealed class SpecV2VectorTests
{
    private const string CafeNfc = "caf\u00e9";
    private const string CafeNfd = "cafe\u0301";

    [Theory]
    [InlineData("A", "7", 16, 8, new[] { 0, 1, 2, 4, 10, 11, 12, 15 })]
    [InlineData("A", "yes", 16, 8, new[] { 2, 3, 4, 6, 7, 8, 11, 13 })]
    [InlineData("A", CafeNfc, 16, 8, new[] { 1, 2, 8, 9, 10, 11, 13, 14 })]
    [InlineData("A", CafeNfd, 16, 8, new[] { 1, 2, 3, 9, 10, 11, 12, 14 })]
    [InlineData("B", "7", 16, 8, new[] { 1, 2, 3, 5, 7, 8, 10, 14 })]
    [InlineData("B", "yes", 16, 8, new[] { 2, 3, 4, 5, 6, 9, 12, 15 })]
    [InlineData("B", CafeNfc, 16, 8, new[] { 1, 3, 5, 6, 7, 9, 13, 15 })]
    [InlineData("B", CafeNfd, 16, 8, new[] { 3, 4, 5, 6, 8, 9, 13, 14 })]
    [InlineData("A", "7", 32, 5, new[] { 10, 11, 15, 22, 24 })]
    [InlineData("A", "7", 8, 4, new[] { 1, 3, 6, 7 })]
    [InlineData("A", "yes", 8, 4, new[] { 2, 3, 4, 6 })]
    public void DeriveClassPatch_MatchesPinnedCode(string key, string label, int slots, int weight, int[] code)
    {
        var parameters = new ProtectionParameters(spec: PoscudaV2.SpecName, code: new SpectralCodeParameters(slots, weight));

        ClassPatch patch = PoscudaV2.Instance.DeriveClassPatch(SpecVectorTests.Secret(key), label, parameters);

        Assert.Equal(label, patch.Label);
        Assert.Equal(code, patch.Code);
        Assert.Empty(patch.Taps);
    }

    [Fact]
    public void DeriveClassPatch_V1AndV2_UseSeparateDerivations()
    {
        // The same key and label under v2 must not reuse v1's class key: the prefixes differ.
        var v2 = new ProtectionParameters(spec: PoscudaV2.SpecName);
        ClassPatch a = PoscudaV2.Instance.DeriveClassPatch(SpecVectorTests.SecretA, "7", v2);
        ClassPatch b = PoscudaV2.Instance.DeriveClassPatch(SpecVectorTests.SecretB, "7", v2);

        Assert.NotEqual(a.Code, b.Code);
        Assert.Throws<ArgumentException>(() => PoscudaV2.Instance.DeriveClassPatch(new byte[31], "7", v2));
    }

    [Theory]
    [InlineData("mono16.wav", "A", "7", 16, 8, 300, 3800, 21, 0.99, 6000, "1b39b6638d36513a5631d9ea58d28a067963177b7c0fa0b330a852b4079f0e7f")]
    [InlineData("mono16.wav", "B", CafeNfc, 16, 8, 300, 3800, 21, 0.99, 6000, "4248e58b3f8600a382a089ee76ad3fd31ef70efa3ed531149d66c0c80b0be155")]
    [InlineData("stereo24.wav", "A", "yes", 16, 8, 300, 3800, 21, 0.99, 6000, "154f990546968b416447dd6f032dc3fd1e3ecddaeed3053bb4e480269cfdf9ba")]
    [InlineData("float32.wav", "A", "yes", 16, 8, 300, 3800, 21, 0.99, 5000, "8dd71656df563264647cd2ed7105d4888164d983c1e41454e0cdc542e3955ebb")]
    [InlineData("pcm8.wav", "B", "7", 16, 8, 300, 3800, 21, 0.99, 3000, "4b223ab7b1bd14b4ebf55e2f442899c0256f7289233174d3d690694bad9e2aa2")]
    [InlineData("short16.wav", "A", "7", 16, 8, 300, 3800, 21, 0.99, 100, "ddc2274d8a3a50c1b767661fd625b4549004bb451309e1ac3c5a5e441be42b67")]
    [InlineData("long16.wav", "B", "yes", 16, 8, 300, 3800, 21, 0.99, 40000, "95c8ef09560da0423954e194d2305b714afd8aabad5a98dc4b90d3a86d7b875d")]
    [InlineData("mono16.wav", "B", "0", 24, 6, 100, 20000, 12, 1.0, 6000, "9838fa84ccbefa884b6058dd6ae854e23a3bf78f21ff168e959f601a2b7f4291")]
    [InlineData("pcm8.wav", "A", "yes", 16, 8, 300, 3800, 0, 1.0, 3000, "c4b59adede6e3b949759555453b68f37c1f71bb1860a0429413dbe93809f6558")]
    [InlineData("loud16.wav", "A", "7", 16, 8, 300, 3800, 21, 0.99, 4000, "09c5824a6d913398ed064462f23869eb28402393511d0cad038cc3be83f95438")]
    [InlineData("mono16.wav", "A", "7", 8, 4, 0, 4000, 21, 0.99, 6000, "1c47f794851c2e8ed5e57bd4ddb312e7616a92f89a8a3d7320aa553bfdbd8fc3")]
    [InlineData("stereo24.wav", "B", "yes", 8, 4, 0, 4000, 21, 0.99, 6000, "cc0ec81e2b40979dce1a04e1dc1ef23a40d9ea1276590154f7c2256bb655c68e")]
    [InlineData("loud16.wav", "A", "7", 8, 4, 0, 4000, 21, 0.99, 4000, "f2ed921dc699ee3edc464bf83bebf937876f0b536454ad21ea16e37f1400e034")]
    public void Protect_VectorInput_MatchesPinnedOutput(
        string file, string key, string label, int slots, int weight, double fmin, double fmax, double snr, double depth,
        long length, string outputSha256)
    {
        var parameters = new ProtectionParameters(spec: PoscudaV2.SpecName, code: new SpectralCodeParameters(slots, weight, fmin, fmax, snr, depth));
        ClassPatch patch = PoscudaV2.Instance.DeriveClassPatch(SpecVectorTests.Secret(key), label, parameters);
        byte[] wav = ReadVector(file);

        ProtectResult result = PoscudaV2.Instance.Protect(wav, patch, parameters, file);

        Assert.Equal(new ProtectResult(0, length, 0), result);
        Assert.Equal(outputSha256, Convert.ToHexStringLower(SHA256.HashData(wav)));
    }

    [Fact]
    public void Protect_FullScaleInput_KeepsSamplesThatWouldClipAndClipsNone()
    {
        var parameters = new ProtectionParameters(spec: PoscudaV2.SpecName, code: new SpectralCodeParameters(16, 8, 300, 3800));
        ClassPatch patch = PoscudaV2.Instance.DeriveClassPatch(SpecVectorTests.SecretA, "7", parameters);
        byte[] input = ReadVector("loud16.wav");
        byte[] output = (byte[])input.Clone();

        ProtectResult result = PoscudaV2.Instance.Protect(output, patch, parameters, "loud16.wav");

        WavLayout layout = WavReader.ReadLayout(input, "loud16.wav");
        var x = new double[layout.FrameCount];
        var y = new double[layout.FrameCount];
        SampleCodec.Decode(input, layout, 0, 0, x);
        SampleCodec.Decode(output, layout, 0, 0, y);
        var p = new double[x.Length];
        SpectralCodeFilter.For(layout.SampleRate, patch.Code, parameters.Code).Perturbation(x, p);
        int wouldClip = 0;
        int changed = 0;
        for (int i = 0; i < x.Length; i++)
        {
            if (!SampleCodec.IsInRange(layout, x[i] + p[i]))
            {
                wouldClip++;
                Assert.Equal(x[i], y[i]);
            }

            changed += x[i] != y[i] ? 1 : 0;
        }

        Assert.Equal(0, result.ClippedSamples);
        Assert.Equal(578, wouldClip);
        Assert.True(changed > x.Length / 2, $"only {changed} of {x.Length} samples changed");
    }

    internal static byte[] ReadVector(string file) => File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "TestData", "vectors", file));
}
