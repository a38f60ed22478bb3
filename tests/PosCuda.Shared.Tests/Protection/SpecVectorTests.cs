using System.Runtime.InteropServices;
using System.Security.Cryptography;
using PosCuda.Shared.Protection;

namespace PosCuda.Shared.Tests.Protection;

/// <summary>Known-answer vectors of <c>poscuda-v1</c>, computed by the independent Python reference.</summary>
/// <remarks>
/// Every value here came from <c>tools/poscuda_reference.py</c> (derive --bits, protect-file) and is checked
/// against the C# implementation, so each vector is confirmed by two implementations written separately.
/// The inputs are the committed files in TestData/vectors (built by <see cref="SyntheticWav"/>).
/// </remarks>
public sealed class SpecVectorTests
{
    /// <summary>Key A: the bytes 0x00..0x1f.</summary>
    internal static readonly byte[] SecretA = [.. Enumerable.Range(0, 32).Select(i => (byte)i)];

    /// <summary>Key B: the bytes 0xff down to 0xe0.</summary>
    internal static readonly byte[] SecretB = [.. Enumerable.Range(0, 32).Select(i => (byte)(0xff - i))];

    private const string CafeNfc = "caf\u00e9";
    private const string CafeNfd = "cafe\u0301";

    [Theory]
    [InlineData("A", "7", 1159, 0x3bfb3644u, 0x3c20e2d7u, 0x3bd379deu, 0x3c0f586bu, "09d4d976ea64e10e4eb9b320f73aed46ec9345905307b7ca862b5c2c73fe8585")]
    [InlineData("A", "yes", 1414, 0x3c15c079u, 0x3c0c098eu, 0x3c1fb95bu, 0x3bc73774u, "dbbcc478a42ed8af05fd0aeba19f7b0077679e4d87f42d49dec3832c6f440cfb")]
    [InlineData("A", CafeNfc, 693, 0x3bb77223u, 0x3c047f2au, 0x3b60cb1bu, 0x3ab87e9au, "ce43a80f778f62c35b215841b0b7d1a2e13e659b88c94b24c68eb55a12057744")]
    [InlineData("A", CafeNfd, 68, 0x3c005dc8u, 0x39fa2817u, 0x3b9cf764u, 0x3c02732cu, "0f4fd9e3a97980c55f75f87b2ebb868cd6b88ff6f05416ec8bc4bd6c24dfd0ca")]
    [InlineData("B", "7", 2207, 0x3b1ebd2cu, 0x3a92aebbu, 0x3ad6681eu, 0x3b090ba7u, "f1145857c06b40b8b11dce3b9eed3208106a21f4883e371600eb4394b8854e1e")]
    [InlineData("B", "yes", 706, 0x3b337fe6u, 0x3941a6a4u, 0x3b17649au, 0x3bd074f8u, "c4f09931e049f6cee260f0f676fb342feb3b96e7a52642f8563e00cca57a84b2")]
    [InlineData("B", CafeNfc, 2165, 0x3ba8ec5cu, 0x39a4719eu, 0x3b877eecu, 0x3ba484ceu, "f2ffa0e7b4033182a52acd1d45fbddc46a0c266a110764bc514da4ee0233cbe8")]
    [InlineData("B", CafeNfd, 1023, 0x3b92efb5u, 0x3bc83f6au, 0x3c17ca3du, 0x3c026b2bu, "bc69e2552da2c15e816448594f799423b83f7d3e6879e24c50ba2e5fa19afd4a")]
    public void DeriveClassPatch_DefaultParameters_MatchesPinnedVector(
        string key, string label, long position, uint tap0, uint tap1, uint tap2, uint tap3, string tapsSha256)
    {
        ClassPatch patch = PoscudaV1.Instance.DeriveClassPatch(Secret(key), label, new ProtectionParameters());

        Assert.Equal(label, patch.Label);
        Assert.Equal(position, patch.Position);
        Assert.Equal(80, patch.Taps.Length);
        Assert.Equal(
            [tap0, tap1, tap2, tap3],
            patch.Taps[..4].Select(BitConverter.SingleToUInt32Bits).ToArray());

        // All 80 taps, as little-endian float32 bytes.
        Assert.Equal(tapsSha256, Convert.ToHexStringLower(SHA256.HashData(MemoryMarshal.AsBytes(patch.Taps.AsSpan()))));
    }

    [Fact]
    public void DeriveClassPatch_NfcAndNfdSpellings_GiveDifferentPatches()
    {
        // The same word, composed (U+00E9) and decomposed (e + U+0301); no normalisation may merge them.
        Assert.Equal("636166c3a9", Convert.ToHexStringLower(System.Text.Encoding.UTF8.GetBytes(CafeNfc)));
        Assert.Equal("63616665cc81", Convert.ToHexStringLower(System.Text.Encoding.UTF8.GetBytes(CafeNfd)));
        var parameters = new ProtectionParameters();

        ClassPatch nfc = PoscudaV1.Instance.DeriveClassPatch(SecretA, CafeNfc, parameters);
        ClassPatch nfd = PoscudaV1.Instance.DeriveClassPatch(SecretA, CafeNfd, parameters);

        Assert.NotEqual(nfc.Taps, nfd.Taps);
        Assert.NotEqual(nfc.Position, nfd.Position);
    }

    /// <summary>End-to-end vectors: file, key, label, k, b, W, p, mode, then the patch start and length, the clipped count and the output's SHA-256.</summary>
    public static IEnumerable<object[]> EndToEndVectors =>
    [
        ["mono16.wav", "A", "7", 80, 0.01, 4000, 240, PatchMode.Positional, 1159L, 240L, 0L, "c27f3bed64cd96e43aa55a64b91debd323b015993f63cacf20e587a3a383e25e"],
        ["mono16.wav", "B", CafeNfc, 80, 0.01, 4000, 240, PatchMode.Positional, 2165L, 240L, 0L, "59c65096c7d4551e8d8da62a39e6b5428805862876b007039a4a7ed6fd6e8b5f"],
        ["stereo24.wav", "A", "yes", 80, 0.01, 4000, 240, PatchMode.Positional, 1414L, 240L, 0L, "18ff0c6604ff4aa5bc68e6e99be38aecf5872a8afbab81da87257455b103bc6a"],
        ["float32.wav", "A", "yes", 80, 0.01, 4000, 240, PatchMode.Positional, 1414L, 240L, 0L, "cc6e1d76c00a8ee78fe564202c1a511816ca2285c59d27f7331684ce1abeb65c"],
        ["pcm8.wav", "B", "7", 80, 0.5, 4000, 240, PatchMode.Whole, 0L, 3000L, 2321L, "d45874b17c75bd045258a4fc0df43eda454a20e1176f756bf7858881de281a45"],
        ["short16.wav", "A", "7", 80, 0.01, 4000, 240, PatchMode.Positional, 0L, 100L, 0L, "e9177d737875d39f36087695c6da80737c8388a3d3619de574c0c656cfc0d290"],
        ["long16.wav", "B", "yes", 80, 0.01, 4000, 240, PatchMode.Whole, 0L, 40000L, 0L, "6e0d5385ba01bfc31e90b633528e6122ef09544681a66c34c1183159c00c8a85"],
        ["mono16.wav", "B", "0", 81, 0.2, 8000, 500, PatchMode.Positional, 5500L, 500L, 149L, "f645ce604de99062a454810ffa088f81447aae4caa80ca3f7fcb83c94dd52171"],
        ["stereo24.wav", "B", CafeNfd, 1, 1.0, 4000, 240, PatchMode.Positional, 1023L, 240L, 0L, "aa5a8f499f9825cc32592f736571e2c9bae317674c377a26b09eeac20cef601b"],
        ["float32.wav", "A", "yes", 80, 0.1, 4000, 240, PatchMode.Positional, 1414L, 240L, 44L, "ff9abc386ce5e35032d412e7923021afe61167a54c3d46d9aa2ed3473d99cb47"],
    ];

    /// <summary>End-to-end vectors: needs the WAV codec (WavReader, SampleCodec) of src/Shared/Audio.</summary>
    [Theory]
    [Trait("Requires", "Codec")]
    [MemberData(nameof(EndToEndVectors))]
    public void Protect_VectorInput_MatchesPinnedOutput(
        string file, string key, string label, int taps, double blur, int window, int patchLength, PatchMode mode,
        long start, long length, long clipped, string outputSha256)
    {
        var parameters = new ProtectionParameters(taps, patchLength, blur, window, mode);
        ClassPatch patch = PoscudaV1.Instance.DeriveClassPatch(Secret(key), label, parameters);
        byte[] wav = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "TestData", "vectors", file));

        ProtectResult result = PoscudaV1.Instance.Protect(wav, patch, parameters, file);

        Assert.Equal(new ProtectResult(start, length, clipped), result);
        Assert.Equal(outputSha256, Convert.ToHexStringLower(SHA256.HashData(wav)));
    }

    internal static byte[] Secret(string key) => key switch
    {
        "A" => SecretA,
        "B" => SecretB,
        _ => throw new ArgumentOutOfRangeException(nameof(key), key, null),
    };
}
