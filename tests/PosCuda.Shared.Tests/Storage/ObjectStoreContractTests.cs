using System.Text;
using PosCuda.Shared;
using PosCuda.Shared.Storage;

namespace PosCuda.Shared.Tests.Storage;

/// <summary>The behaviour every <see cref="IObjectStore"/> must have, run against each implementation.</summary>
public abstract class ObjectStoreContractTests
{
    protected static readonly IReadOnlyDictionary<string, string> NoMetadata = new Dictionary<string, string>();

    /// <summary>Keys no store holds: empty, a folder marker's shape, a NUL.</summary>
    public static TheoryData<string> InvalidKeys => new()
    {
        string.Empty,
        "a/",
        "nul\0.wav",
    };

    /// <summary>Keys S3 holds as written but a folder cannot (another path, outside the root, or none).</summary>
    public static TheoryData<string> KeysOnlyS3Holds => new()
    {
        "../escape.wav",
        "a/../../escape.wav",
        "a/..",
        "/absolute.wav",
        "a/./b.wav",
        "./b.wav",
        "a//b.wav",
        "a/" + new string('n', 252) + ".wav",
    };

    /// <summary>Opens a new, empty store that no other test uses.</summary>
    protected abstract Task<IObjectStore> CreateStoreAsync();

    [Fact]
    public async Task PutAsync_ThenGetAsync_ReturnsSameBytesAndETag()
    {
        await using IObjectStore store = await CreateStoreAsync();
        byte[] data = Pattern(20_000, seed: 1);

        string? putETag = await store.PutAsync("yes/0a7c2a8d_nohash_0.wav", data, NoMetadata, CancellationToken.None);
        ObjectContent content = await store.GetAsync("yes/0a7c2a8d_nohash_0.wav", CancellationToken.None);

        Assert.Equal(data, content.Data);
        Assert.NotNull(putETag);
        Assert.Equal(putETag, content.ETag);
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(20_000, 64)]
    [InlineData(20_000, 1 << 20)]
    public async Task OpenReadAsync_AnyPrefix_ReadsEveryRangeAtTheOpenedETag(int length, int prefix)
    {
        await using IObjectStore store = await CreateStoreAsync();
        byte[] data = Pattern(length, seed: 11);
        string? etag = await store.PutAsync("r/a.wav", data, NoMetadata, CancellationToken.None);

        await using ObjectReader reader = await store.OpenReadAsync("r/a.wav", prefix, CancellationToken.None);
        byte[] head = new byte[Math.Min(100, length)];
        byte[] across = new byte[Math.Min(200, length)];
        byte[] tail = new byte[Math.Min(10, length)];
        await reader.ReadAsync(0, head, CancellationToken.None);
        int acrossAt = Math.Clamp(prefix - (across.Length / 2), 0, length - across.Length);
        await reader.ReadAsync(acrossAt, across, CancellationToken.None);
        await reader.ReadAsync(length - tail.Length, tail, CancellationToken.None);

        Assert.Equal(length, reader.Length);
        Assert.Equal(etag, reader.ETag);
        Assert.Equal(Math.Min(prefix, length), reader.Prefix.Length);
        Assert.Equal(data[..head.Length], head);
        Assert.Equal(data[acrossAt..(acrossAt + across.Length)], across);
        Assert.Equal(data[(length - tail.Length)..], tail);
        Assert.Throws<ArgumentOutOfRangeException>(() => reader.ReadAsync(length, new byte[1], CancellationToken.None).AsTask().GetAwaiter().GetResult());
    }

    [Fact]
    public async Task OpenReadAsync_MissingObject_ThrowsInvalidObject()
    {
        await using IObjectStore store = await CreateStoreAsync();

        InvalidObjectException ex = await Assert.ThrowsAsync<InvalidObjectException>(() => store.OpenReadAsync("missing.wav", 64, CancellationToken.None));

        Assert.Equal("object not found", ex.Reason);
    }

    [Theory]
    [InlineData(3_000, 1 << 20)] // held whole
    [InlineData(3_000, 64)] // read by ranges, written in one piece
    [InlineData(12 << 20, 64 << 10)] // over the multipart threshold: copied parts around an uploaded one
    [InlineData((12 << 20) + 3, 64 << 10)]
    public async Task PutPatchedAsync_Patches_WritesSourceWithPatchesReplaced(int length, int prefix)
    {
        await using IObjectStore store = await CreateStoreAsync();
        byte[] data = Pattern(length, seed: 12);
        await store.PutAsync("src/a.wav", data, NoMetadata, CancellationToken.None);
        ObjectPatch[] patches =
        [
            new(44, Pattern(1_000, seed: 13)),
            new(length - 500, Pattern(200, seed: 14)),
        ];
        byte[] expected = (byte[])data.Clone();
        foreach (ObjectPatch patch in patches)
        {
            patch.Bytes.Span.CopyTo(expected.AsSpan((int)patch.Offset));
        }

        await using ObjectReader reader = await store.OpenReadAsync("src/a.wav", prefix, CancellationToken.None);
        PatchedWrite write = await store.PutPatchedAsync("dst/a.wav", reader, patches, NoMetadata, CancellationToken.None);
        ObjectContent content = await store.GetAsync("dst/a.wav", CancellationToken.None);

        Assert.True(expected.AsSpan().SequenceEqual(content.Data.Span), "the output is the source with the patches, byte for byte");
        Assert.Equal(write.ETag, content.ETag);
        Assert.Equal(data, (await store.GetAsync("src/a.wav", CancellationToken.None)).Data.ToArray());
        Assert.InRange(write.BytesWritten + write.BytesCopiedByStore, 1_200, length + 1_200L);
    }

    [Theory]
    [InlineData(3_000, 1 << 20, 7)] // held whole: one PUT
    [InlineData(3_000, 64, 1)]
    [InlineData((12 << 20) + 3, 64 << 10, 1 << 20)] // over the multipart threshold: parts filled as the patches come
    [InlineData((17 << 20) + 5, 64 << 10, 3 << 20)] // patches straddling part boundaries
    public async Task PutStreamedAsync_PatchesOneAtATime_WritesSourceWithPatchesReplaced(int length, int prefix, int step)
    {
        await using IObjectStore store = await CreateStoreAsync();
        byte[] data = Pattern(length, seed: 22);
        await store.PutAsync("src/a.wav", data, NoMetadata, CancellationToken.None);
        byte[] expected = (byte[])data.Clone();

        // Patches from byte 44 to 30 bytes short of the end, each in a buffer overwritten for the next (as a window is).
        async IAsyncEnumerable<ObjectPatch> Patches()
        {
            byte[] window = new byte[step];
            for (int at = 44, i = 0; at < length - 30; at += step, i++)
            {
                int count = Math.Min(step, length - 30 - at);
                Pattern(count, seed: i).CopyTo(window, 0);
                window.AsSpan(0, count).CopyTo(expected.AsSpan(at));
                yield return new ObjectPatch(at, window.AsMemory(0, count));
                await Task.Yield();
                window.AsSpan().Clear();
            }
        }

        await using ObjectReader reader = await store.OpenReadAsync("src/a.wav", prefix, CancellationToken.None);
        PatchedWrite write = await store.PutStreamedAsync("dst/a.wav", reader, Patches(), NoMetadata, CancellationToken.None);
        ObjectContent content = await store.GetAsync("dst/a.wav", CancellationToken.None);

        Assert.True(expected.AsSpan().SequenceEqual(content.Data.Span), "the output is the source with the patches, byte for byte");
        Assert.Equal(write.ETag, content.ETag);
        Assert.Equal(data, (await store.GetAsync("src/a.wav", CancellationToken.None)).Data.ToArray());
        Assert.InRange(write.BytesWritten, length - 74, length);
        Assert.Equal(length, write.BytesWritten + write.BytesCopiedByStore);
    }

    [Fact]
    public async Task PutStreamedAsync_SourceChangedInPlaceOrReplacedMidStream_NeverWritesAMixOfVersions()
    {
        await using IObjectStore store = await CreateStoreAsync();
        int length = 12 << 20;
        byte[] first = Pattern(length, seed: 25);
        await store.PutAsync("src/a.wav", first, NoMetadata, CancellationToken.None);
        await using ObjectReader reader = await store.OpenReadAsync("src/a.wav", 64, CancellationToken.None);
        byte[] window = new byte[1 << 20];

        // Each patch is read from the source first, as the pipeline's windows are; the source is replaced after the first.
        async IAsyncEnumerable<ObjectPatch> Patches()
        {
            for (int at = 64; at + window.Length <= length; at += window.Length)
            {
                await reader.ReadAsync(at, window, CancellationToken.None);
                yield return new ObjectPatch(at, window);
                if (at == 64)
                {
                    await ReplaceSourceAsync(store, "src/a.wav", Pattern(length, seed: 26));
                }
            }
        }

        SourceChangedException ex = await Assert.ThrowsAsync<SourceChangedException>(
            () => store.PutStreamedAsync("dst/a.wav", reader, Patches(), NoMetadata, CancellationToken.None));

        Assert.Equal("src/a.wav", ex.ObjectKey);
        Assert.DoesNotContain("dst/a.wav", (await ListAllAsync(store)).Select(o => o.Key));
    }

    /// <summary>Changes the object so that a reader opened before sees the change (a folder: in place; S3: a new version).</summary>
    protected abstract Task ReplaceSourceAsync(IObjectStore store, string key, byte[] data);

    [Theory]
    [InlineData(100)] // S3: the uploaded first part's ranged read is refused
    [InlineData((12 << 20) - 100)] // S3: the first part is a part copy, refused by its x-amz-copy-source-if-match
    public async Task PutPatchedAsync_SourceReplacedAfterOpening_NeverWritesAMixOfVersions(int patchAt)
    {
        await using IObjectStore store = await CreateStoreAsync();
        int length = 12 << 20;
        byte[] first = Pattern(length, seed: 15);
        byte[] second = Pattern(length, seed: 16);
        await store.PutAsync("src/a.wav", first, NoMetadata, CancellationToken.None);
        await using ObjectReader reader = await store.OpenReadAsync("src/a.wav", 64, CancellationToken.None);

        await store.PutAsync("src/a.wav", second, NoMetadata, CancellationToken.None);
        ObjectPatch[] patches = [new(patchAt, Pattern(50, seed: 17))];
        try
        {
            await store.PutPatchedAsync("dst/a.wav", reader, patches, NoMetadata, CancellationToken.None);
        }
        catch (SourceChangedException ex)
        {
            // S3: the part copies and ranged reads are conditional on the ETag the reader was opened at.
            Assert.Equal("src/a.wav", ex.ObjectKey);
            Assert.True(ex.IsTransient);
            Assert.DoesNotContain("dst/a.wav", (await ListAllAsync(store)).Select(o => o.Key));
            return;
        }

        // A folder: the open file is the version opened, whatever was renamed over its name since.
        byte[] expected = (byte[])first.Clone();
        patches[0].Bytes.Span.CopyTo(expected.AsSpan(patchAt));
        ObjectContent output = await store.GetAsync("dst/a.wav", CancellationToken.None);
        Assert.True(expected.AsSpan().SequenceEqual(output.Data.Span));
    }

    [Fact]
    public async Task PutAsync_EmptyObject_RoundTrips()
    {
        await using IObjectStore store = await CreateStoreAsync();

        await store.PutAsync("empty.wav", ReadOnlyMemory<byte>.Empty, NoMetadata, CancellationToken.None);
        ObjectContent content = await store.GetAsync("empty.wav", CancellationToken.None);

        Assert.Equal(0, content.Length);
        Assert.True(content.Data.IsEmpty);
        StoredObject listed = Assert.Single(await ListAllAsync(store));
        Assert.Equal(new StoredObject("empty.wav", 0, content.ETag), listed);
    }

    [Fact]
    public async Task PutAsync_SliceOfLargerArray_WritesOnlyTheSlice()
    {
        await using IObjectStore store = await CreateStoreAsync();
        byte[] backing = Pattern(100, seed: 2);

        await store.PutAsync("slice.bin", backing.AsMemory(10, 30), NoMetadata, CancellationToken.None);
        ObjectContent content = await store.GetAsync("slice.bin", CancellationToken.None);

        Assert.Equal(backing[10..40], content.Data);
    }

    [Fact]
    public async Task ListAsync_AfterPuts_ReturnsEveryNestedKeyWithSizeAndETag()
    {
        await using IObjectStore store = await CreateStoreAsync();
        var expected = new Dictionary<string, int>
        {
            ["top.wav"] = 10,
            ["yes/a.wav"] = 11,
            ["yes/b.wav"] = 12,
            ["no/deep/er/c.wav"] = 13,
            ["no/d.wav"] = 14,
            ["space dir/é ü.wav"] = 15,
        };
        var etags = new Dictionary<string, string?>();
        foreach ((string key, int size) in expected)
        {
            etags[key] = await store.PutAsync(key, Pattern(size, seed: size), NoMetadata, CancellationToken.None);
        }

        List<StoredObject> listed = await ListAllAsync(store);

        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), listed.Select(o => o.Key).Order(StringComparer.Ordinal));
        foreach (StoredObject stored in listed)
        {
            Assert.Equal(expected[stored.Key], stored.Size);
            Assert.Equal(etags[stored.Key], stored.ETag);
        }
    }

    [Fact]
    public async Task ListAsync_EmptyStore_ReturnsNothing()
    {
        await using IObjectStore store = await CreateStoreAsync();
        await store.PutAsync("x/only.wav", Pattern(3, seed: 3), NoMetadata, CancellationToken.None);
        await using IObjectStore empty = await CreateStoreAsync();

        Assert.Empty(await ListAllAsync(empty));
    }

    [Fact]
    public async Task GetAsync_ETag_MatchesListing()
    {
        await using IObjectStore store = await CreateStoreAsync();
        await store.PutAsync("a/one.wav", Pattern(500, seed: 4), NoMetadata, CancellationToken.None);

        StoredObject listed = Assert.Single(await ListAllAsync(store));
        ObjectContent content = await store.GetAsync(listed.Key, CancellationToken.None);

        Assert.NotNull(listed.ETag);
        Assert.Equal(listed.ETag, content.ETag);
        Assert.Equal(listed.Size, content.Data.Length);
    }

    [Fact]
    public async Task PutAsync_ThenGetAsync_ObjectOfSeveralMegabytes_RoundTrips()
    {
        await using IObjectStore store = await CreateStoreAsync();
        byte[] data = Pattern(3_000_017, seed: 39);

        await store.PutAsync("long/recording.wav", data, NoMetadata, CancellationToken.None);
        using ObjectContent content = await store.GetAsync("long/recording.wav", CancellationToken.None);

        Assert.True(data.AsSpan().SequenceEqual(content.Data.Span));
    }

    [Fact]
    public async Task GetAsync_ManyReadsDisposedInTurn_EachSeesItsOwnBytes()
    {
        // Stores may read into pooled buffers: a disposed read's buffer serves the next one, never a live one.
        await using IObjectStore store = await CreateStoreAsync();
        byte[][] clips = [.. Enumerable.Range(0, 6).Select(i => Pattern(3000 + (i * 517), seed: 40 + i))];
        for (int i = 0; i < clips.Length; i++)
        {
            await store.PutAsync($"p/{i}.wav", clips[i], NoMetadata, CancellationToken.None);
        }

        ObjectContent held = await store.GetAsync("p/0.wav", CancellationToken.None);
        for (int round = 0; round < 3; round++)
        {
            for (int i = 1; i < clips.Length; i++)
            {
                using ObjectContent content = await store.GetAsync($"p/{i}.wav", CancellationToken.None);
                Assert.True(clips[i].AsSpan().SequenceEqual(content.Data.Span), $"p/{i}.wav read back wrong");
            }
        }

        Assert.True(clips[0].AsSpan().SequenceEqual(held.Data.Span), "a live read was overwritten");
        held.Dispose();
        Assert.True(held.Data.IsEmpty);
    }

    [Fact]
    public async Task PutAsync_ExistingKey_OverwritesWithNewBytes()
    {
        await using IObjectStore store = await CreateStoreAsync();
        await store.PutAsync("k.wav", Pattern(1000, seed: 5), NoMetadata, CancellationToken.None);
        byte[] second = Pattern(300, seed: 6);

        await store.PutAsync("k.wav", second, NoMetadata, CancellationToken.None);

        Assert.Equal(second, (await store.GetAsync("k.wav", CancellationToken.None)).Data);
        StoredObject listed = Assert.Single(await ListAllAsync(store));
        Assert.Equal(300, listed.Size);
    }

    [Fact]
    public async Task PutAsync_ConcurrentWritersOfOneKey_LeaveOneWholeObject()
    {
        await using IObjectStore store = await CreateStoreAsync();
        byte[][] versions = [.. Enumerable.Range(0, 8).Select(i => Pattern(50_000 + i, seed: 100 + i))];

        await Task.WhenAll(versions.Select(v => store.PutAsync("race.wav", v, NoMetadata, CancellationToken.None)));

        byte[] final = (await store.GetAsync("race.wav", CancellationToken.None)).Data.ToArray();
        Assert.Contains(versions, v => v.AsSpan().SequenceEqual(final));
        Assert.Single(await ListAllAsync(store));
    }

    [Theory]
    [MemberData(nameof(InvalidKeys))]
    public async Task GetAsync_InvalidKey_ThrowsInvalidObjectException(string key)
    {
        await using IObjectStore store = await CreateStoreAsync();

        var error = await Assert.ThrowsAsync<InvalidObjectException>(() => store.GetAsync(key, CancellationToken.None));

        Assert.Equal(key, error.ObjectKey);
        Assert.False(error.IsTransient);
    }

    [Theory]
    [MemberData(nameof(InvalidKeys))]
    public async Task PutAsync_InvalidKey_ThrowsInvalidObjectExceptionAndWritesNothing(string key)
    {
        await using IObjectStore store = await CreateStoreAsync();

        var error = await Assert.ThrowsAsync<InvalidObjectException>(() => store.PutAsync(key, Pattern(4, seed: 7), NoMetadata, CancellationToken.None));

        Assert.Equal(key, error.ObjectKey);
        await AssertNothingListedAsync(store);
    }

    [Fact]
    public async Task GetAsync_MissingKey_ThrowsObjectNotFound()
    {
        await using IObjectStore store = await CreateStoreAsync();
        await store.PutAsync("present.wav", Pattern(4, seed: 8), NoMetadata, CancellationToken.None);

        var error = await Assert.ThrowsAsync<InvalidObjectException>(() => store.GetAsync("absent/missing.wav", CancellationToken.None));

        Assert.Equal("absent/missing.wav", error.ObjectKey);
        Assert.Equal("object not found", error.Reason);
        Assert.False(error.IsTransient);
    }

    [Fact]
    public async Task GetAsync_CancelledToken_ThrowsOperationCanceled()
    {
        await using IObjectStore store = await CreateStoreAsync();
        await store.PutAsync("c.wav", Pattern(4, seed: 9), NoMetadata, CancellationToken.None);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.GetAsync("c.wav", new CancellationToken(canceled: true)));
    }

    [Fact]
    public async Task ListAsync_MoreThanOnePageOfObjects_ReturnsEveryOne()
    {
        // 1,100 keys in one folder: more than S3's 1,000-key page, so the listing has to follow continuation tokens.
        await using IObjectStore store = await CreateStoreAsync();
        string[] keys = [.. Enumerable.Range(0, 1_100).Select(i => $"f{i:D5}.wav")];
        await PutAllAsync(store, keys);

        List<StoredObject> listed = await ListAllAsync(store);

        Assert.Equal(keys, listed.Select(o => o.Key).Order(StringComparer.Ordinal));
        Assert.All(listed, o => Assert.Equal(8, o.Size));
    }

    [Fact]
    public async Task ListAsync_ManyNestedPrefixes_ReturnsEveryObjectOnce()
    {
        // Twelve class folders (listed in parallel by S3), one of them over a page long, nested ones and top-level ones.
        await using IObjectStore store = await CreateStoreAsync();
        var keys = new List<string> { "readme.txt", "z-last.wav" };
        for (int c = 0; c < 12; c++)
        {
            keys.Add($"class{c:D2}/direct.wav");
            keys.Add($"class{c:D2}/speaker/deeper/nested.wav");
        }

        keys.AddRange(Enumerable.Range(0, 1_010).Select(i => $"big/sub/{i:D4}.wav"));
        await PutAllAsync(store, keys);

        List<StoredObject> listed = await ListAllAsync(store);

        Assert.Equal(keys.Order(StringComparer.Ordinal), listed.Select(o => o.Key).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task ListAsync_ConsumerStopsEarly_StopsWithoutError()
    {
        await using IObjectStore store = await CreateStoreAsync();
        await PutAllAsync(store, [.. Enumerable.Range(0, 30).Select(i => $"d{i % 3}/k{i:D2}.wav")]);

        int seen = 0;
        await foreach (StoredObject _ in store.ListAsync(CancellationToken.None))
        {
            if (++seen == 2)
            {
                break;
            }
        }

        Assert.Equal(2, seen);
        Assert.Equal(30, (await ListAllAsync(store)).Count);
    }

    [Fact]
    public async Task ListAsync_CancelledToken_ThrowsOperationCanceled()
    {
        await using IObjectStore store = await CreateStoreAsync();
        await store.PutAsync("a/b.wav", Pattern(4, seed: 10), NoMetadata, CancellationToken.None);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (StoredObject _ in store.ListAsync(new CancellationToken(canceled: true)))
            {
            }
        });
    }

    protected static byte[] Pattern(int length, int seed)
    {
        byte[] data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    protected static async Task<List<StoredObject>> ListAllAsync(IObjectStore store)
    {
        var listed = new List<StoredObject>();
        await foreach (StoredObject stored in store.ListAsync(CancellationToken.None))
        {
            listed.Add(stored);
        }

        return listed;
    }

    protected static async Task PutAllAsync(IObjectStore store, IReadOnlyCollection<string> keys)
    {
        byte[] data = Encoding.ASCII.GetBytes("RIFFdata");
        await Parallel.ForEachAsync(
            keys,
            new ParallelOptions { MaxDegreeOfParallelism = 8 },
            async (key, token) => await store.PutAsync(key, data, NoMetadata, token));
    }

    private static async Task AssertNothingListedAsync(IObjectStore store) => Assert.Empty(await ListAllAsync(store));
}
