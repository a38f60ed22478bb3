using FsCheck.Xunit;
using PosCuda.Shared.Labels;
using PosCuda.Shared.Storage;
using PosCuda.Testing;
using PosCuda.Testing.Storage;

namespace PosCuda.Shared.Tests.Storage;

/// <summary>Properties of key handling over generated keys (<see cref="KeyArbitraries"/>), against a real folder and a real S3 server.</summary>
/// <remarks>
/// For every key S3 accepts, each store either holds it (put, get and list give back the same key and bytes) or
/// refuses it with <see cref="InvalidObjectException"/> and the reason <see cref="ObjectKeys.Check"/> gives, having
/// written nothing; a folder never writes outside its root.
/// </remarks>
public sealed class ObjectKeyPropertyTests : IClassFixture<MotoServer>, IAsyncLifetime
{
    private static readonly IReadOnlyDictionary<string, string> s_noMetadata = new Dictionary<string, string>();

    private readonly MotoServer _moto;
    private readonly TempDirectory _workspace = new("poscuda-key-props");
    private string _bucket = string.Empty;
    private int _cases;

    public ObjectKeyPropertyTests(MotoServer moto) => _moto = moto;

    public async Task InitializeAsync() => _bucket = await _moto.CreateBucketAsync();

    public Task DisposeAsync()
    {
        _workspace.Dispose();
        return Task.CompletedTask;
    }

    [Property(Arbitrary = [typeof(KeyArbitraries)], MaxTest = 300)]
    public async Task FolderStore_AnyKey_RoundTripsOrIsRefusedWithItsReasonAndNothingLandsOutsideTheRoot(string key)
    {
        // Each case gets its own root inside its own case folder: whatever lands beside the root escaped it.
        string caseFolder = _workspace[$"case{Interlocked.Increment(ref _cases)}"];
        string root = Path.Combine(caseFolder, "root");
        Directory.CreateDirectory(root);
        await using var store = new FileObjectStore(root);
        byte[] data = Data(key);
        string? reason = ObjectKeys.Check(root, key);

        if (reason is null)
        {
            await store.PutAsync(key, data, s_noMetadata, CancellationToken.None);
            using ObjectContent content = await store.GetAsync(key, CancellationToken.None);
            Assert.Equal(data, content.Data.ToArray());
            Assert.Equal([key], await ListKeysAsync(store));
        }
        else
        {
            var put = await Assert.ThrowsAsync<InvalidObjectException>(() => store.PutAsync(key, data, s_noMetadata, CancellationToken.None));
            var get = await Assert.ThrowsAsync<InvalidObjectException>(() => store.GetAsync(key, CancellationToken.None));
            Assert.Equal((key, reason), (put.ObjectKey, put.Reason));
            Assert.Equal(reason, get.Reason);
            Assert.Empty(await ListKeysAsync(store));
        }

        Assert.Equal([root], Directory.EnumerateFileSystemEntries(caseFolder));
    }

    [Property(Arbitrary = [typeof(KeyArbitraries)], MaxTest = 120)]
    public async Task S3Store_AnyKey_RoundTripsAsWrittenOrIsRefusedWithItsReason(string key)
    {
        string location = $"s3://{_bucket}/case{Interlocked.Increment(ref _cases)}";
        await using var store = new S3ObjectStore(location, _moto.Options);
        byte[] data = Data(key);
        string? reason = ObjectKeys.Check(location, key);

        if (reason is null)
        {
            await store.PutAsync(key, data, s_noMetadata, CancellationToken.None);
            using ObjectContent content = await store.GetAsync(key, CancellationToken.None);
            Assert.Equal(data, content.Data.ToArray());
            Assert.Equal([key], await ListKeysAsync(store));
        }
        else
        {
            var put = await Assert.ThrowsAsync<InvalidObjectException>(() => store.PutAsync(key, data, s_noMetadata, CancellationToken.None));
            Assert.Equal((key, reason), (put.ObjectKey, put.Reason));
            Assert.Empty(await ListKeysAsync(store));
        }
    }

    [Property(Arbitrary = [typeof(KeyArbitraries)], MaxTest = 500)]
    public void S3Store_AnyKeyButEmptyNulOrFolderMarker_IsHeld(string key)
    {
        bool refused = ObjectKeys.Check("s3://bucket/prefix", key) is not null;

        bool tooLong = System.Text.Encoding.UTF8.GetByteCount("prefix/" + key) > 1024;
        Assert.Equal(key.Contains('\0', StringComparison.Ordinal) || key.EndsWith('/') || tooLong, refused);
    }

    [Property(Arbitrary = [typeof(KeyArbitraries)], MaxTest = 500)]
    public void DirLabel_AnyKey_IsDeterministicAndARealFolderNameOrNoLabelWithAReason(string key)
    {
        string? label = LabelRule.Parse("dir").Resolve(key, out string? reason);
        string? again = LabelRule.Parse("dir").Resolve(key, out string? reasonAgain);

        Assert.Equal((label, reason), (again, reasonAgain));
        Assert.Equal(label is null, reason is not null);
        if (label is not null)
        {
            Assert.DoesNotContain('/', label);
            Assert.DoesNotContain(label, new[] { string.Empty, ".", ".." });
            string[] segments = key.Split('/');
            Assert.Equal(segments[^2], label);
        }
    }

    [Property(Arbitrary = [typeof(KeyArbitraries)], MaxTest = 500)]
    public void RegexLabel_AnyKey_IsDeterministicAndTheNamedGroup(string key)
    {
        const string Rule = @"regex:(?<label>[^/]+)/[^/]*$";
        string? label = LabelRule.Parse(Rule).Resolve(key, out string? reason);
        string? again = LabelRule.Parse(Rule).Resolve(key, out _);

        Assert.Equal(label, again);
        Assert.Equal(label is null, reason is not null);
        Assert.True(label is null || (label.Length > 0 && key.Contains(label + "/", StringComparison.Ordinal)));
    }

    private static byte[] Data(string key) => System.Text.Encoding.UTF8.GetBytes("RIFF" + key);

    private static async Task<List<string>> ListKeysAsync(IObjectStore store)
    {
        var keys = new List<string>();
        await foreach (StoredObject stored in store.ListAsync(CancellationToken.None))
        {
            keys.Add(stored.Key);
        }

        return keys;
    }
}
