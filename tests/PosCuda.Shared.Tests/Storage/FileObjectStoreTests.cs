using PosCuda.Shared;
using PosCuda.Shared.Storage;
using PosCuda.Testing.Processes;

namespace PosCuda.Shared.Tests.Storage;

public sealed class FileObjectStoreTests : ObjectStoreContractTests, IDisposable
{
    private readonly string _workspace = Path.Combine(Path.GetTempPath(), $"poscuda-file-store-{Guid.NewGuid():N}");
    private int _stores;

    public FileObjectStoreTests() => Directory.CreateDirectory(_workspace);

    public void Dispose() => Directory.Delete(_workspace, recursive: true);

    protected override Task<IObjectStore> CreateStoreAsync() => Task.FromResult<IObjectStore>(CreateFileStore());

    // In place (a rename would leave an open reader on the old file, which is consistent): the next read sees the new
    // time and length through its handle.
    protected override async Task ReplaceSourceAsync(IObjectStore store, string key, byte[] data)
    {
        string path = Path.Combine(((FileObjectStore)store).RootPath, key);
        DateTime before = File.GetLastWriteTimeUtc(path);
        await using (var file = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite))
        {
            await file.WriteAsync(data);
        }

        File.SetLastWriteTimeUtc(path, before.AddSeconds(1));
    }

    [Theory]
    [InlineData(64)]
    [InlineData(1 << 20)]
    public async Task OpenReadAsync_DanglingSymlink_IsAnInvalidObjectNamingTheReason(int prefix)
    {
        FileObjectStore store = CreateFileStore();
        Directory.CreateDirectory(Path.Combine(store.RootPath, "src"));
        File.CreateSymbolicLink(Path.Combine(store.RootPath, "src", "gone.wav"), Path.Combine(store.RootPath, "src", "deleted.wav"));

        InvalidObjectException ex = await Assert.ThrowsAsync<InvalidObjectException>(
            () => store.OpenReadAsync("src/gone.wav", prefix, CancellationToken.None));

        Assert.Equal("src/gone.wav", ex.ObjectKey);
        Assert.Equal("symlink target not found", ex.Reason);
    }

    [Fact]
    public async Task PutPatchedAsync_SourceModifiedInPlaceAfterOpening_ThrowsSourceChangedAndWritesNothing()
    {
        FileObjectStore store = CreateFileStore();
        await store.PutAsync("src/a.wav", Pattern(100_000, seed: 1), NoMetadata, CancellationToken.None);
        await using ObjectReader reader = await store.OpenReadAsync("src/a.wav", 64, CancellationToken.None);

        using (var file = new FileStream(Path.Combine(store.RootPath, "src", "a.wav"), FileMode.Open, FileAccess.Write))
        {
            file.Position = 50_000;
            file.Write(Pattern(10, seed: 2));
            File.SetLastWriteTimeUtc(file.SafeFileHandle, DateTime.UtcNow.AddMinutes(1));
        }

        SourceChangedException ex = await Assert.ThrowsAsync<SourceChangedException>(
            () => store.PutPatchedAsync("dst/a.wav", reader, [new ObjectPatch(10, new byte[4])], NoMetadata, CancellationToken.None));

        Assert.StartsWith("the file changed while it was being read (ETag ", ex.Reason, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(store.RootPath, "dst", "a.wav")));
        Assert.Empty(Directory.GetFiles(Path.Combine(store.RootPath, "dst")));
    }

    [Fact]
    public async Task ListAsync_Keys_ComeInOrdinalOrder()
    {
        await using FileObjectStore store = CreateFileStore();
        string[] keys = ["a/b.wav", "a-b.wav", "B.wav", "a.b", "a/c/d.wav", "a0.wav", ".hidden.wav"];
        await PutAllAsync(store, keys);

        List<StoredObject> listed = await ListAllAsync(store);

        Assert.Equal(keys.Order(StringComparer.Ordinal), listed.Select(o => o.Key));
    }

    [Fact]
    public async Task ListAsync_ETag_IsLastWriteTicksAndLengthInHex()
    {
        await using FileObjectStore store = CreateFileStore();
        string path = Path.Combine(store.RootPath, "x.wav");
        File.WriteAllBytes(path, Pattern(1234, seed: 1));
        var time = new DateTime(2024, 5, 6, 7, 8, 9, DateTimeKind.Utc).AddTicks(1234567);
        File.SetLastWriteTimeUtc(path, time);

        StoredObject listed = Assert.Single(await ListAllAsync(store));

        Assert.Equal($"{time.Ticks:x}-4d2", listed.ETag);
        Assert.Equal(listed.ETag, (await store.GetAsync("x.wav", CancellationToken.None)).ETag);
    }

    [Fact]
    public async Task PutAsync_ReturnedETag_MatchesFileOnDisk()
    {
        await using FileObjectStore store = CreateFileStore();

        string? etag = await store.PutAsync("p/q.wav", Pattern(77, seed: 2), NoMetadata, CancellationToken.None);

        string path = Path.Combine(store.RootPath, "p", "q.wav");
        Assert.Equal(FileObjectStore.FormatETag(File.GetLastWriteTimeUtc(path), 77), etag);
    }

    [Fact]
    public async Task ListAsync_TempFiles_AreNeverListed()
    {
        await using FileObjectStore store = CreateFileStore();
        await store.PutAsync("d/real.wav", Pattern(5, seed: 3), NoMetadata, CancellationToken.None);
        File.WriteAllBytes(Path.Combine(store.RootPath, "d", ".real.wav.poscuda-tmp-0123456789abcdef"), [1, 2]);

        StoredObject listed = Assert.Single(await ListAllAsync(store));

        Assert.Equal("d/real.wav", listed.Key);
    }

    [Fact]
    public async Task DeleteTempFiles_LeftByDeadWriters_RemovesOnlyThem()
    {
        await using FileObjectStore store = CreateFileStore();
        await store.PutAsync("d/e/real.wav", Pattern(5, seed: 3), NoMetadata, CancellationToken.None);
        File.WriteAllBytes(Path.Combine(store.RootPath, "d", "e", ".real.wav.poscuda-tmp-0123456789abcdef"), [1, 2]);
        File.WriteAllBytes(Path.Combine(store.RootPath, "d", ".other.wav.poscuda-tmp-fedcba9876543210"), [3]);

        int deleted = store.DeleteTempFiles();

        Assert.Equal(2, deleted);
        Assert.Equal([Path.Combine(store.RootPath, "d", "e", "real.wav")], Directory.GetFiles(store.RootPath, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task PutAsync_FolderInTheWay_FailsAndLeavesNoPartialOrTempFile()
    {
        await using FileObjectStore store = CreateFileStore();
        Directory.CreateDirectory(Path.Combine(store.RootPath, "a", "b.wav"));

        await Assert.ThrowsAnyAsync<PosCudaException>(() => store.PutAsync("a/b.wav", Pattern(10_000, seed: 4), NoMetadata, CancellationToken.None));

        Assert.Equal([Path.Combine(store.RootPath, "a", "b.wav")], Directory.GetFileSystemEntries(Path.Combine(store.RootPath, "a")));
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(store.RootPath, "a", "b.wav")));
    }

    [Fact]
    public async Task PutAsync_FileWhereItsFolderShouldBe_FailsThatObjectOnly()
    {
        await using FileObjectStore store = CreateFileStore();
        await store.PutAsync("a.wav", Pattern(10, seed: 30), NoMetadata, CancellationToken.None);

        var error = await Assert.ThrowsAsync<InvalidObjectException>(
            () => store.PutAsync("a.wav/b.wav", Pattern(10, seed: 31), NoMetadata, CancellationToken.None));

        Assert.Equal("a.wav/b.wav", error.ObjectKey);
        Assert.Equal("a file is in the way of its folder", error.Reason);
        await store.PutAsync("c/d.wav", Pattern(10, seed: 32), NoMetadata, CancellationToken.None);
    }

    [Theory]
    [MemberData(nameof(KeysOnlyS3Holds))]
    public async Task PutAsync_KeyAFolderCannotHold_ThrowsInvalidObjectExceptionAndWritesNothing(string key)
    {
        await using FileObjectStore store = CreateFileStore();

        var error = await Assert.ThrowsAsync<InvalidObjectException>(() => store.PutAsync(key, Pattern(4, seed: 7), NoMetadata, CancellationToken.None));
        var read = await Assert.ThrowsAsync<InvalidObjectException>(() => store.GetAsync(key, CancellationToken.None));

        Assert.Equal(key, error.ObjectKey);
        Assert.Equal(error.Reason, read.Reason);
        Assert.Equal(error.Reason, ObjectKeys.Check(store.Location, key));
        Assert.Empty(Directory.EnumerateFiles(_workspace, "*", SearchOption.AllDirectories)); // nowhere, inside or out
    }

    [Fact]
    public async Task GetAsync_ParentTraversal_SaysItWouldEscapeTheFolder()
    {
        await using FileObjectStore store = CreateFileStore();

        var error = await Assert.ThrowsAsync<InvalidObjectException>(() => store.GetAsync("a/../../etc/passwd", CancellationToken.None));

        Assert.Contains("'..' segment", error.Reason, StringComparison.Ordinal);
        Assert.Contains("escape", error.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PutAsync_NameOf255Bytes_RoundTripsThroughItsTemporaryFile()
    {
        await using FileObjectStore store = CreateFileStore();
        string key = "d/" + new string('\u00e9', 125) + "x.wav"; // 250 + 5 bytes of UTF-8: the longest name allowed

        await store.PutAsync(key, Pattern(10, seed: 40), NoMetadata, CancellationToken.None);
        ObjectContent content = await store.GetAsync(key, CancellationToken.None);

        Assert.Equal(Pattern(10, seed: 40), content.Data.ToArray());
        Assert.Equal([key], (await ListAllAsync(store)).Select(o => o.Key));
    }

    [Fact]
    public async Task PutAsync_PathOverPathMax_IsRefusedWithTheLimit()
    {
        await using FileObjectStore store = CreateFileStore();
        string key = string.Join('/', Enumerable.Repeat(new string('f', 250), 17)) + ".wav";

        var error = await Assert.ThrowsAsync<InvalidObjectException>(() => store.PutAsync(key, Pattern(4, seed: 7), NoMetadata, CancellationToken.None));

        Assert.Contains("path too long", error.Reason, StringComparison.Ordinal);
        Assert.Contains("4095", error.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PutAsync_BackslashAndControlCharacters_AreOrdinaryCharactersOfAFileName()
    {
        await using FileObjectStore store = CreateFileStore();
        string[] keys = ["a\\b.wav", "c/tab\tand\u0001.wav", "c/enc%2Fsep.wav"];

        foreach (string key in keys)
        {
            await store.PutAsync(key, Pattern(6, seed: 41), NoMetadata, CancellationToken.None);
        }

        Assert.Equal(keys.Order(StringComparer.Ordinal), (await ListAllAsync(store)).Select(o => o.Key));
        Assert.True(File.Exists(Path.Combine(store.RootPath, "a\\b.wav")));
    }

    [Fact]
    public async Task PutAsync_TempFileName_IsRefused()
    {
        await using FileObjectStore store = CreateFileStore();

        var error = await Assert.ThrowsAsync<InvalidObjectException>(
            () => store.PutAsync("d/.x.wav.poscuda-tmp-00", Pattern(3, seed: 7), NoMetadata, CancellationToken.None));

        Assert.Contains("temporary", error.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PutAsync_FolderRemovedAfterFirstWrite_IsCreatedAgain()
    {
        await using FileObjectStore store = CreateFileStore();
        await store.PutAsync("gone/a.wav", Pattern(3, seed: 8), NoMetadata, CancellationToken.None);
        Directory.Delete(Path.Combine(store.RootPath, "gone"), recursive: true);

        await store.PutAsync("gone/b.wav", Pattern(3, seed: 9), NoMetadata, CancellationToken.None);

        Assert.Equal(["gone/b.wav"], (await ListAllAsync(store)).Select(o => o.Key));
    }

    [Fact]
    public async Task GetAsync_SymlinkOutsideRoot_IsListedButRefused()
    {
        await using FileObjectStore store = CreateFileStore();
        string outside = Path.Combine(_workspace, "outside-secret.wav");
        File.WriteAllBytes(outside, Pattern(64, seed: 10));
        File.CreateSymbolicLink(Path.Combine(store.RootPath, "leak.wav"), outside);

        StoredObject listed = Assert.Single(await ListAllAsync(store));
        var error = await Assert.ThrowsAsync<InvalidObjectException>(() => store.GetAsync("leak.wav", CancellationToken.None));

        Assert.Equal("leak.wav", listed.Key);
        Assert.Equal("leak.wav", error.ObjectKey);
        Assert.Equal("symlink points outside the source folder", error.Reason);
    }

    [Fact]
    public async Task GetAsync_RelativeSymlinkEscapingRoot_IsRefused()
    {
        await using FileObjectStore store = CreateFileStore();
        File.WriteAllBytes(Path.Combine(_workspace, "sibling.wav"), Pattern(8, seed: 11));
        Directory.CreateDirectory(Path.Combine(store.RootPath, "d"));
        File.CreateSymbolicLink(Path.Combine(store.RootPath, "d", "up.wav"), Path.Combine("..", "..", "sibling.wav"));

        var error = await Assert.ThrowsAsync<InvalidObjectException>(() => store.GetAsync("d/up.wav", CancellationToken.None));

        Assert.Equal("symlink points outside the source folder", error.Reason);
    }

    [Fact]
    public async Task GetAsync_KeyThroughFolderLinkOutsideRoot_IsRefusedAndLinkIsListedNotFollowed()
    {
        await using FileObjectStore store = CreateFileStore();
        string outside = Path.Combine(_workspace, "outside-folder");
        Directory.CreateDirectory(outside);
        File.WriteAllBytes(Path.Combine(outside, "x.wav"), Pattern(8, seed: 12));
        Directory.CreateSymbolicLink(Path.Combine(store.RootPath, "linked"), outside);

        var error = await Assert.ThrowsAsync<InvalidObjectException>(() => store.GetAsync("linked/x.wav", CancellationToken.None));
        List<StoredObject> listed = await ListAllAsync(store);

        Assert.Equal("symlink points outside the source folder", error.Reason);
        Assert.Equal(["linked"], listed.Select(o => o.Key));
    }

    [Fact]
    public async Task GetAsync_SymlinkInsideRoot_ReadsTarget()
    {
        await using FileObjectStore store = CreateFileStore();
        byte[] data = Pattern(321, seed: 13);
        await store.PutAsync("real/a.wav", data, NoMetadata, CancellationToken.None);
        Directory.CreateDirectory(Path.Combine(store.RootPath, "alias"));
        File.CreateSymbolicLink(Path.Combine(store.RootPath, "alias", "a.wav"), Path.Combine("..", "real", "a.wav"));
        Directory.CreateSymbolicLink(Path.Combine(store.RootPath, "folder-alias"), Path.Combine(store.RootPath, "real"));

        ObjectContent content = await store.GetAsync("alias/a.wav", CancellationToken.None);
        List<StoredObject> listed = await ListAllAsync(store);

        Assert.Equal(data, content.Data);
        Assert.Equal(["alias/a.wav", "real/a.wav"], listed.Select(o => o.Key));
        Assert.All(listed, o => Assert.Equal(321, o.Size));
        Assert.Equal(listed[1].ETag, content.ETag);
    }

    [Fact]
    public async Task GetAsync_Folder_IsRefused()
    {
        await using FileObjectStore store = CreateFileStore();
        Directory.CreateDirectory(Path.Combine(store.RootPath, "dir"));

        var error = await Assert.ThrowsAsync<InvalidObjectException>(() => store.GetAsync("dir", CancellationToken.None));

        Assert.Equal("is a folder, not a file", error.Reason);
    }

    [Fact]
    public async Task GetAsync_FolderDeletedAndMadeAgainBetweenReads_ReadsWhatIsThereNow()
    {
        // Reads go through a handle on the folder that each thread holds between reads; a deleted folder must not be
        // read through it. The folder store completes synchronously, so both reads below run on this thread.
        await using FileObjectStore store = CreateFileStore();
        byte[] first = Pattern(900, seed: 20);
        byte[] second = Pattern(700, seed: 21);
        string folder = Path.Combine(store.RootPath, "d");
        Directory.CreateDirectory(folder);
        File.WriteAllBytes(Path.Combine(folder, "x.wav"), first);
        using (ObjectContent before = ReadNow(store, "d/x.wav"))
        {
            Assert.True(first.AsSpan().SequenceEqual(before.Data.Span));
        }

        Directory.Delete(folder, recursive: true);
        Directory.CreateDirectory(folder);
        File.WriteAllBytes(Path.Combine(folder, "x.wav"), second);

        using ObjectContent after = ReadNow(store, "d/x.wav");
        Assert.True(second.AsSpan().SequenceEqual(after.Data.Span), "read through the deleted folder");
    }

    // The folder store reads synchronously: the returned task is complete, on the calling thread.
    private static ObjectContent ReadNow(FileObjectStore store, string key)
    {
        Task<ObjectContent> read = store.GetAsync(key, CancellationToken.None);
        Assert.True(read.IsCompletedSuccessfully, $"reading {key} did not complete synchronously");
        return read.Result;
    }

    [Fact]
    public async Task GetAsync_NamedPipe_IsRefusedWithoutWaitingForAWriter()
    {
        await using FileObjectStore store = CreateFileStore();
        string fifo = Path.Combine(store.RootPath, "pipe.wav");
        Directory.CreateDirectory(store.RootPath);
        ChildProcessResult mkfifo = await ChildProcess.RunAsync(new ChildCommand("mkfifo") { Arguments = [fifo] }, TimeSpan.FromSeconds(30));
        Assert.True(mkfifo.ExitCode == 0, mkfifo.ToString());

        // Opening a pipe for reading blocks until a writer comes; the store must not wait for one.
        Task<ObjectContent> read = Task.Run(() => store.GetAsync("pipe.wav", CancellationToken.None));
        Task finished = await Task.WhenAny(read, Task.Delay(TimeSpan.FromSeconds(30)));

        Assert.Same(read, finished);
        var error = await Assert.ThrowsAsync<InvalidObjectException>(() => read);
        Assert.Equal("not a regular file", error.Reason);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task PutAsync_NewFile_GetsTheUsualPermissions()
    {
        await using FileObjectStore store = CreateFileStore();
        string reference = Path.Combine(_workspace, "reference.wav");
        await File.WriteAllBytesAsync(reference, [1, 2, 3]);

        await store.PutAsync("mode.wav", Pattern(10, seed: 15), NoMetadata, CancellationToken.None);

        // Whatever the umask, a protected clip gets the mode any other new file of this process gets.
        Assert.Equal(File.GetUnixFileMode(reference), File.GetUnixFileMode(Path.Combine(store.RootPath, "mode.wav")));
    }

    [Fact]
    public async Task PutAsync_MetadataIsIgnored()
    {
        await using FileObjectStore store = CreateFileStore();
        var metadata = new Dictionary<string, string> { ["poscuda-key-id"] = "k1" };

        await store.PutAsync("m.wav", Pattern(9, seed: 14), metadata, CancellationToken.None);

        Assert.Equal(["m.wav"], Directory.GetFileSystemEntries(store.RootPath).Select(Path.GetFileName));
    }

    [Fact]
    public async Task Constructor_FileUri_OpensTheSameFolderAsThePath()
    {
        string root = Path.Combine(_workspace, "with space");
        Directory.CreateDirectory(root);
        File.WriteAllBytes(Path.Combine(root, "u.wav"), Pattern(6, seed: 15));

        await using var store = new FileObjectStore(new Uri(root + "/").AbsoluteUri);

        Assert.Equal(root, store.RootPath);
        Assert.Equal(["u.wav"], (await ListAllAsync(store)).Select(o => o.Key));
    }

    [Fact]
    public void Constructor_FileUriWithRemoteHost_Throws()
    {
        Assert.Throws<ArgumentException>(() => new FileObjectStore("file://server/share/data"));
    }

    [Fact]
    public async Task ListAsync_MissingRoot_ThrowsPosCudaException()
    {
        await using var store = new FileObjectStore(Path.Combine(_workspace, "does-not-exist"));

        var error = await Assert.ThrowsAsync<PosCudaException>(async () => await ListAllAsync(store));

        Assert.Contains("not found", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PutAsync_RootDoesNotExistYet_CreatesIt()
    {
        string root = Path.Combine(_workspace, "new", "dest");
        await using var store = new FileObjectStore(root);

        await store.PutAsync("c/x.wav", Pattern(4, seed: 16), NoMetadata, CancellationToken.None);

        Assert.True(File.Exists(Path.Combine(root, "c", "x.wav")));
    }

    private FileObjectStore CreateFileStore()
    {
        string root = Path.Combine(_workspace, $"store{Interlocked.Increment(ref _stores)}");
        Directory.CreateDirectory(root);
        return new FileObjectStore(root);
    }
}
