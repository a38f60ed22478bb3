using PosCuda.Shared.Audio;
using PosCuda.Shared.Storage;

namespace PosCuda.Shared.Tests.Audio;

/// <summary>The SciPy WAV test files (TestData/wav-conformance) against the expectations of that folder's README.</summary>
/// <remarks>
/// "either" decisions: 12-bit in 2 bytes, 20-bit in 3 bytes and 5-bit in 1 byte are protected (B from the container);
/// RF64 is protected; 5- to 8-byte integer containers and RIFX are rejected.
/// </remarks>
public sealed class WavConformanceTests
{
    private static readonly string s_folder = Path.Combine(AppContext.BaseDirectory, "TestData", "wav-conformance");

    /// <summary>Every file with its expected outcome: a layout to protect with, or a rejection reason fragment.</summary>
    private static readonly Dictionary<string, (WavLayout? Layout, string? Reason)> s_expected = new()
    {
        // README "protect".
        ["test-44100Hz-le-1ch-4bytes.wav"] = (new WavLayout(SampleFormat.SignedPcm, 1, 44100, 4, 4, 80, 17640), null),
        ["test-44100Hz-2ch-32bit-float-le.wav"] = (new WavLayout(SampleFormat.IeeeFloat, 2, 44100, 4, 8, 58, 3528), null),
        ["test-48000Hz-2ch-64bit-float-le-wavex.wav"] = (new WavLayout(SampleFormat.IeeeFloat, 2, 48000, 8, 16, 112, 7680), null),
        ["test-8000Hz-le-2ch-1byteu.wav"] = (new WavLayout(SampleFormat.UnsignedPcm8, 2, 8000, 1, 2, 44, 1600), null),
        ["test-8000Hz-le-3ch-5S-24bit.wav"] = (new WavLayout(SampleFormat.SignedPcm, 3, 8000, 3, 9, 44, 45), null),

        // README "either": protected.
        ["test-8000Hz-le-4ch-9S-12bit.wav"] = (new WavLayout(SampleFormat.SignedPcm, 4, 8000, 2, 8, 44, 72), null),
        ["test-1234Hz-le-1ch-10S-20bit-extra.wav"] = (new WavLayout(SampleFormat.SignedPcm, 1, 1234, 3, 3, 44, 30), null),
        ["test-8000Hz-le-5ch-9S-5bit.wav"] = (new WavLayout(SampleFormat.UnsignedPcm8, 5, 8000, 1, 5, 44, 45), null),

        // README "either", RF64: protected (the data size in 'data', or in 'ds64' when 'data' says 0xFFFFFFFF; the
        // ds64 sample count is not used, as the fact chunk's is not, so a bogus one does not matter).
        ["test-44100Hz-le-1ch-4bytes-rf64.wav"] = (new WavLayout(SampleFormat.SignedPcm, 1, 44100, 4, 4, 116, 17640), null),
        ["test-8000Hz-le-3ch-5S-24bit-rf64.wav"] = (new WavLayout(SampleFormat.SignedPcm, 3, 8000, 3, 9, 80, 45), null),

        // README "either": rejected.
        ["test-8000Hz-le-3ch-5S-36bit.wav"] = (null, "unsupported sample size: 36-bit integer PCM in 5-byte containers"),
        ["test-8000Hz-le-3ch-5S-45bit.wav"] = (null, "unsupported sample size: 45-bit integer PCM in 6-byte containers"),
        ["test-8000Hz-le-3ch-5S-53bit.wav"] = (null, "unsupported sample size: 53-bit integer PCM in 7-byte containers"),
        ["test-8000Hz-le-3ch-5S-64bit.wav"] = (null, "unsupported sample size: 64-bit integer PCM in 8-byte containers"),
        ["test-44100Hz-be-1ch-4bytes.wav"] = (null, "big-endian RIFX is not supported"),
        ["test-44100Hz-2ch-32bit-float-be.wav"] = (null, "big-endian RIFX is not supported"),
        ["test-8000Hz-be-3ch-5S-24bit.wav"] = (null, "big-endian RIFX is not supported"),

        // README "reject".
        ["test-8000Hz-le-3ch-5S-24bit-inconsistent.wav"] = (null, "inconsistent block align / byte rate"),
        ["test-8000Hz-le-1ch-1byte-ulaw.wav"] = (null, "unsupported encoding: mu-law"),
        ["test-44100Hz-le-1ch-4bytes-early-eof.wav"] = (null, "'data' chunk runs past the end of the file"),
        ["test-44100Hz-le-1ch-4bytes-early-eof-no-data.wav"] = (null, "missing 'data' chunk"),
        ["test-44100Hz-le-1ch-4bytes-incomplete-chunk.wav"] = (null, "truncated chunk header"),
    };

    public static TheoryData<string> Files => new(s_expected.Keys.Order(StringComparer.Ordinal));

    [Fact]
    public void Folder_EveryWavFile_HasAnExpectation()
    {
        string[] onDisk = [.. Directory.GetFiles(s_folder, "*.wav").Select(Path.GetFileName).Order(StringComparer.Ordinal)!];

        Assert.Equal(22, onDisk.Length);
        Assert.Equal(s_expected.Keys.Order(StringComparer.Ordinal), onDisk);
    }

    [Theory]
    [MemberData(nameof(Files))]
    public async Task ReadLayoutAsync_ConformanceFileReadByRanges_AgreesWithReadLayout(string name)
    {
        (WavLayout? expectedLayout, string? expectedReason) = s_expected[name];
        await using var store = new FileObjectStore(s_folder);

        // A prefix of 0 or 16 bytes makes every chunk header a ranged read; 1 MiB holds every file whole.
        foreach (int prefix in new[] { 0, 16, 1 << 20 })
        {
            await using ObjectReader reader = await store.OpenReadAsync(name, prefix, CancellationToken.None);
            if (expectedLayout is null)
            {
                InvalidObjectException ex = await Assert.ThrowsAsync<InvalidObjectException>(() => WavReader.ReadLayoutAsync(reader, CancellationToken.None).AsTask());
                Assert.StartsWith(expectedReason!, ex.Reason, StringComparison.Ordinal);
            }
            else
            {
                Assert.Equal(expectedLayout, await WavReader.ReadLayoutAsync(reader, CancellationToken.None));
            }
        }
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void ReadLayout_ConformanceFile_BehavesAsExpected(string name)
    {
        byte[] original = File.ReadAllBytes(Path.Combine(s_folder, name));
        (WavLayout? expectedLayout, string? expectedReason) = s_expected[name];

        if (expectedLayout is null)
        {
            InvalidObjectException ex = Assert.Throws<InvalidObjectException>(() => WavReader.ReadLayout(original, name));
            Assert.Equal(name, ex.ObjectKey);
            Assert.StartsWith(expectedReason!, ex.Reason, StringComparison.Ordinal);
            return;
        }

        WavLayout layout = WavReader.ReadLayout(original, name);
        Assert.Equal(expectedLayout, layout);

        // Decode every sample of every channel and encode it back: the file must not change by a single byte.
        byte[] copy = (byte[])original.Clone();
        double[] samples = new double[layout.FrameCount];
        for (int channel = 0; channel < layout.Channels; channel++)
        {
            SampleCodec.Decode(copy, layout, channel, 0, samples);
            int clipped = SampleCodec.Encode(copy, layout, channel, 0, samples);
            Assert.Equal(0, clipped);
        }

        Assert.Equal(original, copy);
    }

    [Fact]
    public void Decode_Scipy24Bit_MatchesStoredIntegers()
    {
        byte[] file = File.ReadAllBytes(Path.Combine(s_folder, "test-8000Hz-le-3ch-5S-24bit.wav"));
        WavLayout layout = WavReader.ReadLayout(file, "24bit");
        double[] firstFrame = new double[3];
        double[] channel2 = new double[5];

        for (int channel = 0; channel < 3; channel++)
        {
            Span<double> one = firstFrame.AsSpan(channel, 1);
            SampleCodec.Decode(file, layout, channel, 0, one);
        }

        SampleCodec.Decode(file, layout, 2, 0, channel2);

        // Frame 0 is 00 00 80 | 01 00 80 | FE FF FF: -2^23, -2^23 + 1, -2.
        Assert.Equal([-1.0, (-8388608 + 1) / 8388608.0, -2 / 8388608.0], firstFrame);
        Assert.Equal(-2 / 8388608.0, channel2[0]);
    }

    [Fact]
    public void Decode_Scipy8BitUnsigned_MatchesStoredBytes()
    {
        byte[] file = File.ReadAllBytes(Path.Combine(s_folder, "test-8000Hz-le-2ch-1byteu.wav"));
        WavLayout layout = WavReader.ReadLayout(file, "8bit");
        double[] left = new double[3];

        SampleCodec.Decode(file, layout, 0, 0, left);

        // Left samples 0x88, 0xBD, 0xD9.
        Assert.Equal([(0x88 - 128) / 128.0, (0xBD - 128) / 128.0, (0xD9 - 128) / 128.0], left);
    }
}
