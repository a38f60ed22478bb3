using System.Text.Json;
using Amazon.S3;
using Amazon.S3.Model;
using PosCuda.Coordinator.Cli;
using PosCuda.Shared.Storage;
using PosCuda.Testing;
using PosCuda.Testing.Storage;

namespace PosCuda.Pipeline.Tests.Protect;

/// <summary>
/// <c>protect</c> from an S3 prefix holding keys that S3 accepts but a folder or an XML listing does not: every object
/// gets its own outcome (protected inside DST, byte for byte as the spec says, or failed with a reason), exit 3.
/// </summary>
public sealed class OddKeyProtectTests : IClassFixture<ProtectFixture>, IClassFixture<MotoServer>
{
    private const string Labels = "regex:(?<label>zero|one|lead)";

    // Held by every store: control characters (which XML 1.0 cannot carry), a backslash, '%2F', astral characters.
    private static readonly string[] s_heldEverywhere =
    [
        "zero/0_plain.wav", "one/1_plain.wav", "zero/ctl\u0001x.wav", "zero/\u001b[31mred.wav", "zero/tab\tx.wav",
        "zero/back\\slash.wav", "zero/enc%2Fsep.wav", "zero/uni\u00e9\U0001F600.wav", "zero/sp ace+plus.wav", "zero/q?x#y&z.wav",
    ];

    // Held by S3 as written, but no folder can: an empty segment, '.', '..', a leading '/', a 304-byte name.
    private static readonly string[] s_heldByS3Only =
        ["zero//b.wav", "zero/./dot.wav", "zero/../up.wav", "/lead.wav", "zero/" + new string('L', 300) + ".wav"];

    private const string NulKey = "zero/nul\0.wav";

    private readonly ProtectFixture _fixture;
    private readonly MotoServer _moto;

    public OddKeyProtectTests(ProtectFixture fixture, MotoServer moto)
    {
        _fixture = fixture;
        _moto = moto;
    }

    [Fact]
    public async Task Protect_OddS3KeysToAFolder_ProtectsWhatAFolderHoldsFailsTheRestByNameExits3()
    {
        (string source, Dictionary<string, byte[]> inputs) = await CreateSourceAsync();
        using var temp = new TempDirectory();
        string dst = temp["out"];
        string report = temp["report.json"];

        int code = await ProtectAsync(source, dst, temp["state"], report);

        Assert.Equal(ExitCodes.SomeFailed, code);
        foreach (string key in s_heldEverywhere)
        {
            Assert.Equal(Expected(inputs[key], key), await File.ReadAllBytesAsync(Path.Combine(dst, key)));
        }

        string[] written = [.. Directory.GetFiles(dst, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(dst, f)).Where(f => !f.StartsWith(".poscuda/", StringComparison.Ordinal)).Order(StringComparer.Ordinal)];
        Assert.Equal(s_heldEverywhere.Order(StringComparer.Ordinal), written);
        Assert.Equal(["out", "report.json", "state"], Directory.GetFileSystemEntries(temp.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal));

        Dictionary<string, string> failures = await ReadFailuresAsync(report);
        Assert.Equal(s_heldByS3Only.Append(ObjectKeys.Recordable(NulKey)).Order(StringComparer.Ordinal), failures.Keys.Order(StringComparer.Ordinal));
        foreach (string key in s_heldByS3Only)
        {
            Assert.StartsWith("the destination cannot hold this key: ", failures[key], StringComparison.Ordinal);
        }

        Assert.Contains("NUL", failures[ObjectKeys.Recordable(NulKey)], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Protect_OddS3KeysToS3_ProtectsEveryKeyAsWrittenButTheNulOneExits3()
    {
        (string source, Dictionary<string, byte[]> inputs) = await CreateSourceAsync();
        string bucket = await _moto.CreateBucketAsync();
        using var temp = new TempDirectory();
        string report = temp["report.json"];

        int code = await ProtectAsync(source, $"s3://{bucket}/protected", temp["state"], report);

        Assert.Equal(ExitCodes.SomeFailed, code);
        string[] held = [.. s_heldEverywhere, .. s_heldByS3Only];
        using AmazonS3Client client = _moto.CreateClient();
        foreach (string key in held)
        {
            using GetObjectResponse response = await client.GetObjectAsync(bucket, "protected/" + key);
            using var body = new MemoryStream();
            await response.ResponseStream.CopyToAsync(body);
            Assert.Equal(Expected(inputs[key], key), body.ToArray());
        }

        await using var destination = new S3ObjectStore($"s3://{bucket}/protected", _moto.Options);
        var listed = new List<string>();
        await foreach (StoredObject stored in destination.ListAsync(CancellationToken.None))
        {
            if (!stored.Key.StartsWith(".poscuda/", StringComparison.Ordinal))
            {
                listed.Add(stored.Key);
            }
        }

        Assert.Equal(held.Order(StringComparer.Ordinal), listed.Order(StringComparer.Ordinal));
        Dictionary<string, string> failures = await ReadFailuresAsync(report);
        Assert.Equal([ObjectKeys.Recordable(NulKey)], failures.Keys);
        Assert.Equal("key contains a NUL character (recorded as \\u0000)", failures[ObjectKeys.Recordable(NulKey)]);
    }

    private async Task<(string Location, Dictionary<string, byte[]> Inputs)> CreateSourceAsync()
    {
        string bucket = await _moto.CreateBucketAsync();
        using AmazonS3Client client = _moto.CreateClient();
        string[] clips = Directory.GetFiles(RepositoryPaths.Sample, "*.wav").Order(StringComparer.Ordinal).ToArray();
        var inputs = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        string[] keys = [.. s_heldEverywhere, .. s_heldByS3Only, NulKey];
        for (int i = 0; i < keys.Length; i++)
        {
            byte[] data = await File.ReadAllBytesAsync(clips[i]);
            inputs[keys[i]] = data;
            await client.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = "raw/" + keys[i], InputStream = new MemoryStream(data) });
        }

        // A folder marker is not an object of the job.
        await client.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = "raw/zero/", ContentBody = string.Empty });
        return ($"s3://{bucket}/raw", inputs);
    }

    private Task<int> ProtectAsync(string source, string destination, string state, string report) => PoscudaCli.RunAsync(
        ["protect", source, destination, "--keyring", _fixture.KeyringPath, "--labels", Labels, "--state", state, "--report", report,
         "--s3-endpoint", _moto.Endpoint.ToString(), "--quiet"]);

    private byte[] Expected(byte[] input, string key)
    {
        string label = key.Contains("zero", StringComparison.Ordinal) ? "zero" : key.Contains("one", StringComparison.Ordinal) ? "one" : "lead";
        byte[] expected = _fixture.Expected(input, label, key);
        Assert.NotEqual(input, expected);
        return expected;
    }

    private static async Task<Dictionary<string, string>> ReadFailuresAsync(string report)
    {
        using JsonDocument json = JsonDocument.Parse(await File.ReadAllBytesAsync(report));
        return json.RootElement.GetProperty("failures").EnumerateArray()
            .ToDictionary(f => f.GetProperty("object").GetString()!, f => f.GetProperty("reason").GetString()!, StringComparer.Ordinal);
    }
}
