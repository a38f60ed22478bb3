using PosCuda.Coordinator.Datasets;
using PosCuda.Coordinator.Quality;
using PosCuda.Shared.Analysis;
using PosCuda.Shared.Labels;
using PosCuda.Shared.Storage;
using PosCuda.Testing;
using PosCuda.Testing.Audio;

namespace PosCuda.Pipeline.Tests.Quality;

public class QualityAnalysisTests
{
    private static double[] Tone(int n, double hz, double amplitude = 0.5)
        => [.. Enumerable.Range(0, n).Select(i => amplitude * Math.Sin(2 * Math.PI * hz * i / 8000.0))];

    private static void Write(string path, double[] samples)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, new WavBuilder().WithSamples(samples).Build());
    }

    [Fact]
    public async Task RunAsync_GainChangeAndMissingCounterpart_TwentyDbAndOneFailure()
    {
        using var temp = new TempDirectory();
        double[] a = Tone(4000, 440);
        double[] b = Tone(4000, 660);
        Write(temp["clean/a/1.wav"], a);
        Write(temp["clean/b/1.wav"], b);
        Write(temp["clean/b/2.wav"], b);
        Write(temp["protected/a/1.wav"], [.. a.Select(v => 0.9 * v)]);
        Write(temp["protected/b/1.wav"], [.. b.Select(v => 0.9 * v)]);

        QualityAnalysis.Outcome outcome = await RunAsync(temp);

        Assert.Equal(2, outcome.Overall.Clips);
        Assert.Equal(20.0, outcome.Overall.Snr.Mean, 3);
        Assert.Equal(20.0, outcome.Overall.SegmentalSnrPatch.Mean, 3);
        Assert.Equal(0, outcome.Overall.NewlyClipped);
        Assert.Equal(["a", "b"], outcome.Classes.Keys);
        (string key, string reason) = Assert.Single(outcome.Failures);
        Assert.Equal("b/2.wav", key);
        Assert.StartsWith("protected:", reason, StringComparison.Ordinal);
        Assert.True(outcome.Overall.LogMelFrechet() > 0);
    }

    [Fact]
    public async Task RunAsync_ChangeInSilence_CountsASilentPatch()
    {
        using var temp = new TempDirectory();

        // Loud tone, then 1,000 samples of silence where the "patch" adds a faint click.
        double[] clean = [.. Tone(3000, 440), .. new double[1000]];
        double[] changed = (double[])clean.Clone();
        changed[3500] = 0.001;
        double[] loudChange = [.. clean.Select((v, i) => i is >= 100 and < 340 ? 0.9 * v : v)];
        Write(temp["clean/x/1.wav"], clean);
        Write(temp["clean/x/2.wav"], clean);
        Write(temp["protected/x/1.wav"], changed);
        Write(temp["protected/x/2.wav"], loudChange);

        QualityAnalysis.Outcome outcome = await RunAsync(temp);

        Assert.Equal(1, outcome.Overall.SilentPatches);
        Assert.Equal(0.5, outcome.Overall.SilentPatchFraction);
    }

    [Fact]
    public async Task WritePlots_TwoClasses_WritesPngFiles()
    {
        using var temp = new TempDirectory();
        foreach ((string label, double hz) in new[] { ("a", 440.0), ("b", 660.0) })
        {
            double[] x = Tone(4000, hz);
            Write(temp[$"clean/{label}/1.wav"], x);
            Write(temp[$"protected/{label}/1.wav"], [.. x.Select((v, i) => i is >= 400 and < 640 ? 0.4 * v : v)]);
        }

        IReadOnlyList<string> files = QualityPlots.Write(temp["plots"], await RunAsync(temp));

        Assert.Equal(["snr-distribution.png", "spectrogram-00-a.png", "spectrogram-01-b.png"], files.Select(Path.GetFileName));
        Assert.All(files, f => Assert.Equal<byte>([0x89, (byte)'P', (byte)'N', (byte)'G'], File.ReadAllBytes(f)[..4]));
    }

    [Fact]
    public void CountNewlyClipped_SampleAlreadyAtFullScale_IsNotCounted()
    {
        // 16-bit: full scale is 32767/32768 and -1. Sample 0 and 2 become full scale; sample 1 already was.
        DecodedClip clean = DecodedClip.Decode(new WavBuilder().WithSamples([0.5, 32767 / 32768.0, -0.5, 0.25]).Build(), "c");
        DecodedClip changed = DecodedClip.Decode(new WavBuilder().WithSamples([32767 / 32768.0, 32767 / 32768.0, -1, 0.25]).Build(), "p");
        Assert.Equal(2, ClipComparer.CountNewlyClipped(clean, changed));
    }

    private static async Task<QualityAnalysis.Outcome> RunAsync(TempDirectory temp)
    {
        await using var clean = new FileObjectStore(temp["clean"]);
        await using var changed = new FileObjectStore(temp["protected"]);
        DatasetListing listing = await DatasetListing.ReadAsync(clean, LabelRule.Parse("dir"), CancellationToken.None);
        return await new QualityAnalysis(new QualitySettings()).RunAsync(listing, clean, changed, null, 2, 2, CancellationToken.None);
    }
}
