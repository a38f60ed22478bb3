using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using PosCuda.Shared.Audio;
using PosCuda.Shared.Protection;
using PosCuda.Shared.Storage;
using PosCuda.Shared.Tests.Audio;
using PosCuda.Testing.Audio;

namespace PosCuda.Shared.Tests.Protection;

/// <summary>Protecting only a clip's region (the patch and its filter context, read by ranges) gives the bytes of protecting the whole file.</summary>
public sealed class ProtectRegionTests
{
    private static readonly byte[] s_secret = Enumerable.Range(0, 32).Select(i => (byte)(i * 11)).ToArray();

    [Property(Arbitrary = [typeof(CodecArbitraries)], MaxTest = 300)]
    public Property ProtectRegion_AnyLayout_EqualsWholeFileProtect(CodecCase @case, PositiveInt tapsSeed, PositiveInt patchSeed, bool whole, bool rf64)
    {
        int taps = 1 + (tapsSeed.Get % 120);
        int patch = 1 + (patchSeed.Get % 300);
        var parameters = new ProtectionParameters(taps, patch, blur: 0.05 + (tapsSeed.Get % 7), window: patch + (patchSeed.Get % 900), mode: whole ? PatchMode.Whole : PatchMode.Positional);
        ClassPatch classPatch = PoscudaV1.Instance.DeriveClassPatch(s_secret, $"class-{tapsSeed.Get % 5}", parameters);
        byte[] input = (@case.Builder with { Rf64 = rf64 }).Build();
        byte[] expected = (byte[])input.Clone();
        ProtectResult wholeResult = PoscudaV1.Instance.Protect(expected, classPatch, parameters, "case.wav");

        byte[] actual = ProtectByRegion(input, classPatch, parameters, out ProtectResult regionResult);

        return (expected.AsSpan().SequenceEqual(actual) && wholeResult == regionResult)
            .Label($"{@case} taps={taps} patch={patch} whole={whole} rf64={rf64}");
    }

    [Theory]
    [InlineData(1, 2, 1)] // odd alignments: 3-byte samples, 3 channels (9-byte frames)
    [InlineData(3, 3, 2)]
    [InlineData(3, 1, 1)]
    [InlineData(4, 7, 81)]
    [InlineData(8, 2, 2040)]
    public void PlanRegion_PatchAtTheClipEdges_ReadsTheFilterContextInsideTheClip(int containerBytes, int channels, int taps)
    {
        SampleFormat format = containerBytes switch { 1 => SampleFormat.UnsignedPcm8, 8 => SampleFormat.IeeeFloat, _ => SampleFormat.SignedPcm };
        var layout = new WavLayout(format, channels, 8000, containerBytes, containerBytes * channels, 47, 10_000L * containerBytes * channels);
        var parameters = new ProtectionParameters(taps, 240, window: 10_000);
        int h = (taps - 1) / 2;
        foreach (long position in new long[] { 0, 5, h, 4_000, 10_000 - 240 })
        {
            var patchAt = new ClassPatch("c", new float[taps], position);

            ProtectionRegion region = PoscudaV1.Instance.PlanRegion(layout, patchAt, parameters);

            Assert.Equal(position, region.ChangeFirstFrame);
            Assert.Equal(240, region.ChangeFrameCount);
            Assert.Equal(Math.Max(0, position - h), region.ReadFirstFrame);
            Assert.Equal(Math.Min(10_000, position + 240 + (taps - 1 - h)), region.ReadFirstFrame + region.ReadFrameCount);
            Assert.Equal(47 + (region.ChangeFirstFrame * layout.BlockAlign), region.ChangeOffset(layout));
        }
    }

    [Fact]
    public async Task ReadLayoutAsync_Rf64ReadByRanges_FindsTheSameSamplesAsRiff()
    {
        WavBuilder builder = new WavBuilder { Format = SampleFormat.SignedPcm, ContainerBytes = 3, Channels = 3, ChunksAfterData = [WavChunk.Filler("LIST", 9)] }.WithNoise(5_000, 7);
        using var temp = new TempFolder();
        await File.WriteAllBytesAsync(Path.Combine(temp.Path, "riff.wav"), builder.Build(out int riffData));
        await File.WriteAllBytesAsync(Path.Combine(temp.Path, "rf64.wav"), (builder with { Rf64 = true }).Build(out int rf64Data));
        await using var store = new FileObjectStore(temp.Path);

        await using ObjectReader riff = await store.OpenReadAsync("riff.wav", 16, CancellationToken.None);
        await using ObjectReader rf64 = await store.OpenReadAsync("rf64.wav", 16, CancellationToken.None);
        WavLayout riffLayout = await WavReader.ReadLayoutAsync(riff, CancellationToken.None);
        WavLayout rf64Layout = await WavReader.ReadLayoutAsync(rf64, CancellationToken.None);

        Assert.Equal(riffData, riffLayout.DataOffset);
        Assert.Equal(riffLayout with { DataOffset = rf64Data }, rf64Layout);
    }

    // As BatchProcessor does: plan the region, patch a window of it, and copy the changed bytes over the source.
    private static byte[] ProtectByRegion(byte[] input, ClassPatch patch, ProtectionParameters parameters, out ProtectResult result)
    {
        WavLayout layout = WavReader.ReadLayout(input, "case.wav");
        ProtectionRegion region = PoscudaV1.Instance.PlanRegion(layout, patch, parameters);
        byte[] window = input.AsSpan((int)region.ReadOffset(layout), (int)region.ReadLength(layout)).ToArray();
        result = PoscudaV1.Instance.ProtectRegion(window, region, layout, patch, parameters);
        byte[] output = (byte[])input.Clone();
        var changed = new ObjectPatch(
            region.ChangeOffset(layout),
            window.AsMemory((int)((region.ChangeFirstFrame - region.ReadFirstFrame) * layout.BlockAlign), (int)region.ChangeLength(layout)));
        ObjectPatch.ApplyTo(output, 0, [changed]);
        return output;
    }

    private sealed class TempFolder : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("poscuda-region-").FullName;

        public void Dispose() => Directory.Delete(Path, recursive: true);
    }
}
