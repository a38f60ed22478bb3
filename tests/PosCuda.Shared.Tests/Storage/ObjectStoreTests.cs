using PosCuda.Shared.Storage;

namespace PosCuda.Shared.Tests.Storage;

public sealed class ObjectStoreTests : IDisposable
{
    private readonly string _workspace = Path.Combine(Path.GetTempPath(), $"poscuda-object-store-{Guid.NewGuid():N}");

    public ObjectStoreTests() => Directory.CreateDirectory(_workspace);

    public void Dispose() => Directory.Delete(_workspace, recursive: true);

    [Theory]
    [InlineData("s3://bucket/prefix")]
    [InlineData("S3://bucket")]
    public async Task Open_S3Location_ReturnsS3ObjectStore(string location)
    {
        await using IObjectStore store = ObjectStore.Open(location, new ObjectStoreOptions(S3Endpoint: "http://127.0.0.1:1"));

        Assert.IsType<S3ObjectStore>(store);
        Assert.Equal(location, store.Location);
    }

    [Fact]
    public async Task Open_PathOrFileUri_ReturnsFileObjectStoreAtThatFolder()
    {
        await using IObjectStore byPath = ObjectStore.Open(_workspace, new ObjectStoreOptions());
        await using IObjectStore byUri = ObjectStore.Open(new Uri(_workspace).AbsoluteUri, new ObjectStoreOptions());

        Assert.Equal(_workspace, Assert.IsType<FileObjectStore>(byPath).RootPath);
        Assert.Equal(_workspace, Assert.IsType<FileObjectStore>(byUri).RootPath);
    }

    [Theory]
    [InlineData("s3://b/data/out", "s3://b/data", true)]
    [InlineData("s3://b/data/", "s3://b/data", true)]
    [InlineData("s3://b/data", "s3://b", true)]
    [InlineData("s3://b/data", "s3://b/data/", true)]
    [InlineData("s3://b/data2", "s3://b/data", false)]
    [InlineData("s3://b/data", "s3://b/data/out", false)]
    [InlineData("s3://other/data", "s3://b/data", false)]
    [InlineData("s3://b/data", "/b/data", false)]
    public void IsWithin_S3Locations_ComparesBucketAndPrefix(string inner, string outer, bool expected)
    {
        Assert.Equal(expected, ObjectStore.IsWithin(inner, outer));
    }

    [Theory]
    [InlineData("src", "src", true)]
    [InlineData("src/", "src", true)]
    [InlineData("src/out", "src", true)]
    [InlineData("src/a/../out", "src", true)]
    [InlineData("src2", "src", false)]
    [InlineData("src", "src/out", false)]
    [InlineData("other", "src", false)]
    public void IsWithin_Folders_ComparesFullPaths(string inner, string outer, bool expected)
    {
        Assert.Equal(expected, ObjectStore.IsWithin(Path.Combine(_workspace, inner), Path.Combine(_workspace, outer)));
    }

    [Fact]
    public void IsWithin_FileUriAndPath_AreTheSameFolder()
    {
        string inner = new Uri(Path.Combine(_workspace, "src", "out")).AbsoluteUri;

        Assert.True(ObjectStore.IsWithin(inner, Path.Combine(_workspace, "src")));
    }

    [Fact]
    public void IsWithin_DestinationLinkedIntoSource_IsDetected()
    {
        string source = Path.Combine(_workspace, "source");
        Directory.CreateDirectory(Path.Combine(source, "inside"));
        string link = Path.Combine(_workspace, "dest-link");
        Directory.CreateSymbolicLink(link, Path.Combine(source, "inside"));

        Assert.True(ObjectStore.IsWithin(Path.Combine(link, "not-yet-created"), source));
    }
}
