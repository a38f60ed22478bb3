using System.Collections.Concurrent;
using Amazon.S3;
using Amazon.S3.Model;
using PosCuda.Shared.Protection;
using PosCuda.Testing;
using PosCuda.Testing.Storage;

namespace PosCuda.Pipeline.Tests.Distributed;

/// <summary>What the distributed tests share: one moto S3 server, a keyring (rotated once, so version 2 is active) and the bundled sample.</summary>
public sealed class DistributedFixture : IAsyncLifetime
{
    /// <summary>The class is the leading digits of the file name, at the root or under a copy's folder.</summary>
    public const string Labels = @"regex:(?:^|/)(?<label>\d+)_";

    private readonly TempDirectory _dir = new("poscuda-distributed");
    private readonly List<(string Name, string Label, byte[] Bytes)> _sample = [];

    public DistributedFixture()
    {
        KeyringPath = _dir["keyring.json"];
        KeyringFile.Save(Keyring.Create().Rotate(compromised: false), KeyringPath);
        Keyring = KeyringFile.Load(KeyringPath);
    }

    /// <summary>The S3 server.</summary>
    public MotoServer Moto { get; } = new();

    /// <summary>The keyring file (mode 0600) every worker gets.</summary>
    public string KeyringPath { get; }

    /// <summary>The keyring.</summary>
    public Keyring Keyring { get; }

    /// <summary>A client for setting up and checking buckets.</summary>
    public AmazonS3Client Client { get; private set; } = null!;

    /// <summary>A scratch folder for state and keyrings.</summary>
    public TempDirectory Scratch => _dir;

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        await Moto.StartAsync(CancellationToken.None);
        Client = Moto.CreateClient();
        foreach (string path in Directory.GetFiles(RepositoryPaths.Sample, "*.wav").Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileName(path);
            _sample.Add((name, name[..name.IndexOf('_', StringComparison.Ordinal)], await File.ReadAllBytesAsync(path)));
        }

        Assert.Equal(100, _sample.Count);
    }

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        Client?.Dispose();
        await Moto.DisposeAsync();
        _dir.Dispose();
    }

    /// <summary>Uploads <paramref name="copies"/> copies of the sample under <c>raw/</c> of a new bucket (copy i under <c>raw/cI/</c> when more than one).</summary>
    /// <param name="copies">How many copies of the 100 clips.</param>
    /// <param name="archived">Labels whose clips go to the GLACIER storage class (S3 refuses to GET them: InvalidObjectState).</param>
    /// <returns>The bucket and the clips by key.</returns>
    public async Task<(string Bucket, IReadOnlyDictionary<string, SampleClip> Clips)> UploadCorpusAsync(int copies, IReadOnlySet<string>? archived = null)
    {
        string bucket = await Moto.CreateBucketAsync();
        var clips = new ConcurrentDictionary<string, SampleClip>(StringComparer.Ordinal);
        var work = Enumerable.Range(0, copies).SelectMany(copy => _sample.Select(clip => (Copy: copy, Clip: clip)));
        await Parallel.ForEachAsync(work, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (item, ct) =>
        {
            string key = copies == 1 ? item.Clip.Name : $"c{item.Copy}/{item.Clip.Name}";
            using var body = new MemoryStream(item.Clip.Bytes, writable: false);
            var request = new PutObjectRequest { BucketName = bucket, Key = "raw/" + key, InputStream = body };
            if (archived?.Contains(item.Clip.Label) == true)
            {
                request.StorageClass = S3StorageClass.Glacier;
            }

            PutObjectResponse response = await Client.PutObjectAsync(request, ct);
            clips[key] = new SampleClip(key, item.Clip.Label, item.Clip.Bytes, response.ETag.Trim('"'));
        });
        return (bucket, clips);
    }

    /// <summary>What the spec makes of a clip with the active key version and <paramref name="parameters"/> (default: poscuda-v1's defaults).</summary>
    public byte[] Expected(SampleClip clip, ProtectionParameters? parameters = null)
    {
        ArgumentNullException.ThrowIfNull(clip);
        return ProtectionOracle.Expected(Keyring, clip.Bytes, clip.Label, clip.Key, parameters);
    }

    /// <summary>Every key under <paramref name="prefix"/> of <paramref name="bucket"/>, relative to the prefix.</summary>
    public async Task<IReadOnlyList<string>> ListKeysAsync(string bucket, string prefix)
    {
        var keys = new List<string>();
        var request = new ListObjectsV2Request { BucketName = bucket, Prefix = prefix };
        ListObjectsV2Response response;
        do
        {
            response = await Client.ListObjectsV2Async(request);
            keys.AddRange((response.S3Objects ?? []).Select(o => o.Key[prefix.Length..]));
            request.ContinuationToken = response.NextContinuationToken;
        }
        while (response.IsTruncated == true);
        return keys;
    }

    /// <summary>An object's bytes.</summary>
    public async Task<byte[]> GetBytesAsync(string bucket, string key)
    {
        using GetObjectResponse response = await Client.GetObjectAsync(bucket, key);
        using var buffer = new MemoryStream();
        await response.ResponseStream.CopyToAsync(buffer);
        return buffer.ToArray();
    }
}
