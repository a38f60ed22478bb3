using PosCuda.Coordinator.Audit;
using PosCuda.Coordinator.Datasets;
using PosCuda.Shared.Labels;
using PosCuda.Shared.Storage;
using PosCuda.Testing;
using PosCuda.Testing.Audio;

namespace PosCuda.Pipeline.Tests.Audit;

public class FeatureCacheTests
{
    [Fact]
    public async Task GetAsync_SecondRun_ReadsTheCacheAndAChangedObjectMissesIt()
    {
        using var temp = new TempDirectory();
        SyntheticSpeech.Write(temp["data"], 2, (_, x) => x);
        File.WriteAllText(temp["data/c0/notes.txt"], "not audio");
        File.WriteAllBytes(temp["data/c1/broken.wav"], [1, 2, 3]);
        await using var store = new FileObjectStore(temp["data"]);
        var cache = new FeatureCache(temp["cache"], SyntheticSpeech.Rate, seed: 1);

        async Task<FeatureTable> GetAsync()
        {
            DatasetListing listing = await DatasetListing.ReadAsync(store, LabelRule.Parse("dir"), CancellationToken.None);
            return (await cache.GetAsync(store, [new FeatureRequest("all", listing.Objects, null)], 2, CancellationToken.None))[0];
        }

        FeatureTable first = await GetAsync();
        FeatureTable second = await GetAsync();
        Assert.False(first.FromCache);
        Assert.True(second.FromCache);
        Assert.Equal(8, first.Vectors.Count);
        Assert.Equal("c1/broken.wav", Assert.Single(first.Failures).Key);
        Assert.Equal(first.Vectors["c2/001.wav"], second.Vectors["c2/001.wav"]);
        Assert.Equal(new ClipFeatureExtractor(SyntheticSpeech.Rate).Dimension, first.Vectors["c2/001.wav"].Length);

        File.WriteAllBytes(temp["data/c2/001.wav"], new WavBuilder().WithSamples(SyntheticSpeech.Clip(3, 99)).Build());
        File.SetLastWriteTimeUtc(temp["data/c2/001.wav"], DateTime.UtcNow.AddMinutes(1));
        FeatureTable third = await GetAsync();
        Assert.False(third.FromCache);
        Assert.NotEqual(first.Vectors["c2/001.wav"], third.Vectors["c2/001.wav"]);
    }
}
