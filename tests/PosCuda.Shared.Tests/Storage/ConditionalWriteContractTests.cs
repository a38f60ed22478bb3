using PosCuda.Shared.Storage;
using PosCuda.Testing;
using PosCuda.Testing.Storage;

namespace PosCuda.Shared.Tests.Storage;

/// <summary>The fenced-write contract every <see cref="IConditionalObjectStore"/> keeps (folder and S3 alike).</summary>
public abstract class ConditionalWriteContractTests
{
    private static readonly Dictionary<string, string> s_metadata = new() { ["poscuda-key-version"] = "2" };

    protected abstract Task<IConditionalObjectStore> CreateStoreAsync();

    [Fact]
    public async Task PutIfAbsent_NoObject_Writes_ThenSecondIsRefused()
    {
        IConditionalObjectStore store = await CreateStoreAsync();
        await using (store)
        {
            string? etag = await store.PutAsync("a/b.wav", new byte[] { 1, 2, 3 }, s_metadata, WriteCondition.Absent, CancellationToken.None);

            Assert.NotNull(etag);
            await Assert.ThrowsAsync<PreconditionFailedException>(
                () => store.PutAsync("a/b.wav", new byte[] { 9 }, s_metadata, WriteCondition.Absent, CancellationToken.None));
            using ObjectContent content = await store.GetAsync("a/b.wav", CancellationToken.None);
            Assert.Equal([1, 2, 3], content.Data.ToArray());
        }
    }

    [Fact]
    public async Task PutIfMatch_ObjectReplacedSinceRead_IsRefusedAndTheNewerObjectStays()
    {
        IConditionalObjectStore store = await CreateStoreAsync();
        await using (store)
        {
            await store.PutAsync("k.wav", new byte[] { 1 }, s_metadata, CancellationToken.None);
            ObjectHead? read = await store.HeadAsync("k.wav", CancellationToken.None);
            await Task.Delay(20); // A folder's tag holds the write time.

            // A rekey replaces the object (fenced on what it read) ...
            string? rekeyed = await store.PutAsync("k.wav", new byte[] { 2, 2 }, s_metadata, WriteCondition.Matching(read!.ETag!), CancellationToken.None);

            // ... and a late writer that read the object before that cannot put its bytes back.
            await Assert.ThrowsAsync<PreconditionFailedException>(
                () => store.PutAsync("k.wav", new byte[] { 1 }, s_metadata, WriteCondition.Matching(read.ETag!), CancellationToken.None));
            using ObjectContent content = await store.GetAsync("k.wav", CancellationToken.None);
            Assert.Equal([2, 2], content.Data.ToArray());
            Assert.Equal(rekeyed, content.ETag);
        }
    }

    [Fact]
    public async Task Head_MissingObject_IsNull()
    {
        IConditionalObjectStore store = await CreateStoreAsync();
        await using (store)
        {
            Assert.Null(await store.HeadAsync("nothing.wav", CancellationToken.None));
        }
    }
}

public sealed class FileConditionalWriteTests : ConditionalWriteContractTests, IDisposable
{
    private readonly TempDirectory _dir = new("poscuda-cond");

    protected override Task<IConditionalObjectStore> CreateStoreAsync()
        => Task.FromResult<IConditionalObjectStore>(new FileObjectStore(_dir[Guid.NewGuid().ToString("N")]));

    public void Dispose() => _dir.Dispose();
}

public sealed class S3ConditionalWriteTests(MotoServer moto) : ConditionalWriteContractTests, IClassFixture<MotoServer>
{
    protected override async Task<IConditionalObjectStore> CreateStoreAsync()
        => new S3ObjectStore($"s3://{await moto.CreateBucketAsync()}/out", moto.Options);

    [Fact]
    public async Task Get_ObjectWithMetadata_ReturnsItWithoutThePrefix()
    {
        await using var store = (S3ObjectStore)await CreateStoreAsync();
        await store.PutAsync("m.wav", new byte[] { 1 }, new Dictionary<string, string> { ["poscuda-key-version"] = "7" }, CancellationToken.None);

        using ObjectContent content = await store.GetAsync("m.wav", CancellationToken.None);
        ObjectHead? head = await store.HeadAsync("m.wav", CancellationToken.None);

        Assert.Equal("7", content.Metadata["poscuda-key-version"]);
        Assert.Equal("7", head!.Metadata["poscuda-key-version"]);
        Assert.Equal(content.ETag, head.ETag);
    }
}
