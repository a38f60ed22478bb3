using System.Text.Json.Nodes;
using Amazon.S3;
using Amazon.S3.Model;
using PosCuda.Coordinator.Cli;
using PosCuda.Engine.Processing;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Protection;
using PosCuda.Shared.Storage;
using PosCuda.Testing;
using PosCuda.Testing.Processes;
using PosCuda.Testing.Storage;

namespace PosCuda.Pipeline.Tests.Vault;

/// <summary>
/// After a key leak: <c>keyring rotate --compromised</c>, <c>rekey</c> from the originals or from restore records,
/// <c>restore</c>, <c>verify</c>, on folders and on S3 (moto_server), through the real command line.
/// </summary>
public sealed class RekeyTests(MotoServer moto) : IClassFixture<MotoServer>
{
    private const string Labels = @"regex:^(?<label>\d+)_";

    [Fact]
    public async Task Rekey_AfterRotateFromSource_ReprotectsVersion1UnderVersion2AndLeavesVersion2Untouched()
    {
        using var temp = new TempDirectory();
        string[] clips = SampleClips();
        string all = CopyClips(temp["all"], clips);
        string first = CopyClips(temp["first"], clips[..60]);
        string second = CopyClips(temp["second"], clips[60..]);
        string dst = temp["dst"];
        string keys = NewKeyring(temp);

        Assert.Equal(ExitCodes.Success, await Poscuda("protect", first, dst, "--keyring", keys, "--labels", Labels, "--quiet"));
        Assert.Equal(ExitCodes.Success, await Poscuda("keyring", "rotate", keys, "--compromised"));
        Assert.Equal(ExitCodes.Success, await Poscuda("protect", second, dst, "--keyring", keys, "--labels", Labels, "--quiet"));
        Dictionary<string, byte[]> secondBefore = clips[60..].ToDictionary(c => Path.GetFileName(c), c => File.ReadAllBytes(Path.Combine(dst, Path.GetFileName(c))));
        int beforeRekey = await Poscuda("verify", dst, "--keyring", keys, "--labels", Labels, "--source", all);

        int code = await Poscuda("rekey", dst, "--keyring", keys, "--labels", Labels, "--from-version", "1", "--source", all, "--quiet");

        Assert.Equal(ExitCodes.SomeFailed, beforeRekey); // 60 objects under the compromised version 1.
        Assert.Equal(ExitCodes.Success, code);
        Keyring keyring = KeyringFile.Load(keys);
        Assert.Equal(2, keyring.Active);
        foreach (string clip in clips[..60])
        {
            string name = Path.GetFileName(clip);
            Assert.Equal(ProtectionOracle.Expected(keyring, File.ReadAllBytes(clip), name[..1], name), File.ReadAllBytes(Path.Combine(dst, name)));
        }

        foreach ((string name, byte[] bytes) in secondBefore)
        {
            Assert.Equal(bytes, File.ReadAllBytes(Path.Combine(dst, name)));
        }

        Assert.Equal(ExitCodes.Success, await Poscuda("verify", dst, "--keyring", keys, "--labels", Labels, "--source", all));
    }

    [Fact]
    public async Task Protect_WithRestoreRecords_ClipTooLargeToHoldTwiceFailsWithTheFigureAndTheRestGoOn()
    {
        // A record needs the whole original: a 60 MB clip held twice does not fit the 104 MB a 200 MB limit leaves for objects.
        using var temp = new TempDirectory();
        string[] clips = SampleClips()[..5];
        string src = CopyClips(temp["src"], clips);
        byte[] large = new PosCuda.Testing.Audio.WavBuilder { SampleRate = 48000 }.WithNoise(30_000_000, 3).Build();
        await File.WriteAllBytesAsync(Path.Combine(src, "3_large.wav"), large);
        string keys = NewKeyring(temp);
        string vault = await NewVaultAsync(temp);

        int code = await Poscuda(
            "protect", src, temp["dst"], "--keyring", keys, "--labels", Labels, "--vault", temp["vault-public.json"], "--vault-store", temp["records"],
            "--memory-limit", "200MB", "--report", temp["report.json"], "--quiet");

        Assert.Equal(ExitCodes.SomeFailed, code);
        using System.Text.Json.JsonDocument json = System.Text.Json.JsonDocument.Parse(await File.ReadAllBytesAsync(temp["report.json"]));
        System.Text.Json.JsonElement failure = Assert.Single(json.RootElement.GetProperty("failures").EnumerateArray());
        Assert.Equal("3_large.wav", failure.GetProperty("object").GetString());
        Assert.Equal(
            $"needs {2 * large.Length / 1_000_000.0:0.#} MB in memory, more than --memory-limit leaves for objects (104 MB): a job that writes restore records holds the whole clip and its original",
            failure.GetProperty("reason").GetString());
        Assert.False(File.Exists(Path.Combine(temp["dst"], "3_large.wav")));
        Keyring keyring = KeyringFile.Load(keys);
        foreach (string clip in clips)
        {
            string name = Path.GetFileName(clip);
            Assert.Equal(ProtectionOracle.Expected(keyring, File.ReadAllBytes(clip), name[..1], name), File.ReadAllBytes(Path.Combine(temp["dst"], name)));
        }
    }

    [Fact]
    public async Task ProtectRekeyRestore_LongRecordingsUnderV2_ABatchHoldsAtMost32MiBUntilItsEndTheRestGoAheadWithTheirOwnRecords()
    {
        // Seven 6 MB recordings of one class, one batch. poscuda-v2 changes the whole data chunk, so each restore entry
        // holds about the whole original: protect may keep 5 entries (30 MB) until the batch's end and writes the other
        // 2 ahead, each in its own record; rekey holds a prepared replacement and its entry (12 MB) per object, so it
        // keeps 2 and replaces the other 5 at once, each after its own record.
        using var temp = new TempDirectory();
        string src = Directory.CreateDirectory(temp["src"]).FullName;
        var originals = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        for (int i = 0; i < 7; i++)
        {
            byte[] clip = new PosCuda.Testing.Audio.WavBuilder { SampleRate = 8000 }.WithNoise(3_000_000, 10 + i).Build();
            originals[$"4_long_{i}.wav"] = clip;
            await File.WriteAllBytesAsync(Path.Combine(src, $"4_long_{i}.wav"), clip);
        }

        string dst = temp["dst"];
        string records = temp["records"];
        string keys = NewKeyring(temp);
        string vault = await NewVaultAsync(temp);
        string[] common = ["--keyring", keys, "--labels", Labels, "--quiet", "--concurrency", "2", "--batch-size", "10"];

        Assert.Equal(ExitCodes.Success, await Poscuda(
            ["protect", src, dst, "--spec", PoscudaV2.SpecName, "--vault", temp["vault-public.json"], "--vault-store", records, .. common]));
        int afterProtect = Directory.GetFiles(records, "*.json", SearchOption.AllDirectories).Length;
        Directory.Delete(src, recursive: true);
        Assert.Equal(ExitCodes.Success, await Poscuda("keyring", "rotate", keys, "--compromised"));
        Assert.Equal(ExitCodes.Success, await Poscuda(
            ["rekey", dst, "--from-version", "1", "--vault", vault, "--vault-store", records, .. common])); // No --spec: the protect job's parameters.
        int afterRekey = Directory.GetFiles(records, "*.json", SearchOption.AllDirectories).Length;
        Assert.Equal(ExitCodes.Success, await Poscuda("restore", dst, temp["restored"], "--vault", vault, "--vault-store", records, "--quiet"));

        Assert.Equal(1 + 2, afterProtect);
        Assert.Equal(1 + 5, afterRekey - afterProtect);
        Keyring keyring = KeyringFile.Load(keys);
        foreach ((string name, byte[] original) in originals)
        {
            Assert.Equal(
                ProtectionOracle.Expected(keyring, original, "4", name, new ProtectionParameters(spec: PoscudaV2.SpecName)),
                await File.ReadAllBytesAsync(Path.Combine(dst, name)));
            Assert.Equal(original, await File.ReadAllBytesAsync(Path.Combine(temp["restored"], name)));
        }
    }

    [Fact]
    public async Task VerifyAndRekey_GivenNoParameters_UseThoseTheSetWasProtectedWith()
    {
        // A poscuda-v2 set at --code-snr 18: verify and rekey take the spec and its parameters from the protect job in the
        // state folder's ledger; given other parameters explicitly, verify uses those (and finds every object wrong).
        using var temp = new TempDirectory();
        string[] clips = SampleClips()[..20];
        string src = CopyClips(temp["src"], clips);
        string dst = temp["dst"];
        string keys = NewKeyring(temp);
        var parameters = new ProtectionParameters(spec: PoscudaV2.SpecName, code: SpectralCodeParameters.Parse("snr=18"));
        Assert.Equal(ExitCodes.Success, await Poscuda(
            "protect", src, dst, "--keyring", keys, "--labels", Labels, "--spec", PoscudaV2.SpecName, "--code-snr", "18", "--quiet"));

        (int verifyDefault, string verifyDefaultReport) = await VerifyAsync(temp, "verify", dst, "--keyring", keys, "--labels", Labels, "--source", src);
        (int verifyV1, _) = await VerifyAsync(temp, "verify", dst, "--keyring", keys, "--labels", Labels, "--source", src, "--spec", PoscudaV1.SpecName);
        Assert.Equal(ExitCodes.Success, await Poscuda("keyring", "rotate", keys, "--compromised"));
        int rekey = await Poscuda("rekey", dst, "--keyring", keys, "--labels", Labels, "--from-version", "1", "--source", src, "--quiet");

        Assert.True(verifyDefault == ExitCodes.Success, verifyDefaultReport);
        Assert.Equal(ExitCodes.SomeFailed, verifyV1);
        Assert.Equal(ExitCodes.Success, rekey);
        Keyring keyring = KeyringFile.Load(keys);
        foreach (string clip in clips)
        {
            string name = Path.GetFileName(clip);
            Assert.Equal(ProtectionOracle.Expected(keyring, File.ReadAllBytes(clip), name[..1], name, parameters), File.ReadAllBytes(Path.Combine(dst, name)));
        }

        (int verifyAfter, string verifyAfterReport) = await VerifyAsync(temp, "verify", dst, "--keyring", keys, "--labels", Labels, "--source", src);
        Assert.True(verifyAfter == ExitCodes.Success, verifyAfterReport);
    }

    [Fact]
    public async Task VerifyAndRekey_ASetCopiedAwayFromItsLedger_TakeTheParametersFromItsManifests()
    {
        // Protected with poscuda-v2 at 18 dB, then copied elsewhere without the state folder (as a cluster's set, or one
        // protected on another machine): verify and rekey find the parameters in the set's own manifests.
        using var temp = new TempDirectory();
        string[] clips = SampleClips()[..20];
        string src = CopyClips(temp["src"], clips);
        string keys = NewKeyring(temp);
        var parameters = new ProtectionParameters(spec: PoscudaV2.SpecName, code: SpectralCodeParameters.Parse("snr=18"));
        Assert.Equal(ExitCodes.Success, await Poscuda(
            "protect", src, temp["dst"], "--keyring", keys, "--labels", Labels, "--spec", PoscudaV2.SpecName, "--code-snr", "18", "--quiet"));
        string copy = temp["elsewhere"];
        Directory.Move(temp["dst"], copy);

        ChildProcessResult verify = await PoscudaTool.RunAsync(["verify", copy, "--keyring", keys, "--labels", Labels, "--source", src]);
        Assert.Equal(ExitCodes.Success, await Poscuda("keyring", "rotate", keys, "--compromised"));
        ChildProcessResult rekey = await PoscudaTool.RunAsync(["rekey", copy, "--keyring", keys, "--labels", Labels, "--from-version", "1", "--source", src, "--quiet"]);

        Assert.True(verify.ExitCode == ExitCodes.Success, verify.ToString());
        Assert.Contains("from its manifest: poscuda-v2 (slots=8;weight=4;fmin=0;fmax=4000;snr=18;depth=0.99)", verify.StandardError, StringComparison.Ordinal);
        Assert.True(rekey.ExitCode == ExitCodes.Success, rekey.ToString());
        Assert.Contains("from its manifest: poscuda-v2", rekey.StandardError, StringComparison.Ordinal);
        Keyring keyring = KeyringFile.Load(keys);
        foreach (string clip in clips)
        {
            string name = Path.GetFileName(clip);
            Assert.Equal(ProtectionOracle.Expected(keyring, File.ReadAllBytes(clip), name[..1], name, parameters), File.ReadAllBytes(Path.Combine(copy, name)));
        }
    }

    [Fact]
    public async Task RekeyAndVerify_AClassWhoseV2CodeIsTheSameUnderTheLeakedVersion_AreWarnedOfAndCountedUnderTheActiveOne()
    {
        // poscuda-v2 draws a class's code from C(8,4) = 70: one rotation in 70 keeps it. The re-keyed bytes are then the
        // output of both versions: rekey and verify say so, and verify does not call them protected under the compromised
        // version (it did, and failed CI once). A cluster rekey (submit --rekey) says so as soon as its classes are planned.
        using var temp = new TempDirectory();
        var parameters = new ProtectionParameters(spec: PoscudaV2.SpecName);
        Keyring first;
        Keyring rotated;
        do
        {
            first = Keyring.Create();
            rotated = first.Rotate(compromised: true);
        }
        while (!PoscudaV2.Instance.DeriveClassPatch(rotated.GetVersion(1).Secret, "0", parameters).Code
            .SequenceEqual(PoscudaV2.Instance.DeriveClassPatch(rotated.GetVersion(2).Secret, "0", parameters).Code));
        string keys = temp["keys.json"];
        KeyringFile.Save(first, keys);
        string src = CopyClips(temp["src"], SampleClips().Where(c => Path.GetFileName(c).StartsWith('0')).Take(5));
        string dst = temp["dst"];
        Assert.Equal(ExitCodes.Success, await Poscuda("protect", src, dst, "--keyring", keys, "--labels", Labels, "--spec", PoscudaV2.SpecName, "--quiet"));
        KeyringFile.Save(rotated, keys);

        ChildProcessResult rekey = await PoscudaTool.RunAsync(["rekey", dst, "--keyring", keys, "--labels", Labels, "--from-version", "1", "--source", src, "--quiet"]);
        ChildProcessResult verify = await PoscudaTool.RunAsync(["verify", dst, "--keyring", keys, "--labels", Labels, "--source", src]);
        ChildProcessResult verifyWithoutOriginals = await PoscudaTool.RunAsync(["verify", dst, "--keyring", keys, "--labels", Labels]);
        ChildProcessResult submitted = await PoscudaTool.RunAsync(
            ["submit", dst, "--rekey", "--ledger", temp["ledger.db"], "--keyring", keys, "--labels", Labels, "--from-version", "1", "--source", src, "--spec", PoscudaV2.SpecName]);

        Assert.Equal(ExitCodes.Success, rekey.ExitCode);
        const string Warning = "warning: 1 class(es) have the same poscuda-v2 code under key version 2 as under version 1 (0; one class in 70";
        Assert.Contains(Warning, rekey.StandardError, StringComparison.Ordinal);
        Assert.True(verify.ExitCode == ExitCodes.Success, verify.ToString());
        Assert.Contains("key versions v2: 5", verify.StandardOutput, StringComparison.Ordinal);
        Assert.Contains(Warning, verify.StandardError, StringComparison.Ordinal);
        Assert.Contains(Warning, verifyWithoutOriginals.StandardError, StringComparison.Ordinal); // The classes are known from the labels alone.
        Assert.True(submitted.ExitCode == ExitCodes.Success, submitted.ToString());
        Assert.Contains(Warning, submitted.StandardError, StringComparison.Ordinal); // A cluster rekey says so once it is planned.
    }

    [Fact]
    public async Task Rekey_KeyringWhoseActiveVersionIsCompromised_IsRefused()
    {
        using var temp = new TempDirectory();
        string keys = NewKeyring(temp);
        KeyringFile.Save(KeyringFile.Load(keys).Rotate(compromised: true), keys);
        JsonNode json = JsonNode.Parse(File.ReadAllText(keys))!;
        json["versions"]![1]!["state"] = "compromised"; // Marked by hand after the rotation: the active version leaked too.
        File.WriteAllText(keys, json.ToJsonString());

        ChildProcessResult result = await PoscudaTool.RunAsync(
            ["rekey", temp["dst"], "--keyring", keys, "--labels", Labels, "--from-version", "1", "--source", temp["src"]]);

        Assert.NotEqual(ExitCodes.Success, result.ExitCode);
        Assert.Contains("active version 2", result.StandardError, StringComparison.Ordinal);
        Assert.Contains("compromised", result.StandardError, StringComparison.Ordinal);
        Assert.False(Directory.Exists(temp["dst.poscuda-state"]), "a refused rekey created a job");
    }

    [Fact]
    public async Task Rekey_FromRestoreRecordsWithTheSourceDeleted_OnS3_MatchesTheSpecUnderVersion2AndRestoreGivesTheOriginalsBack()
    {
        using var temp = new TempDirectory();
        string[] clips = SampleClips()[..30];
        string src = CopyClips(temp["src"], clips);
        string bucket = await moto.CreateBucketAsync();
        string pub = $"s3://{bucket}/published";
        string vaultStore = $"s3://{bucket}/vault";
        string keys = NewKeyring(temp);
        string vault = await NewVaultAsync(temp);

        // Workers that only protect hold the public half.
        Assert.Equal(ExitCodes.Success, await Poscuda(
            "protect", src, pub, "--keyring", keys, "--labels", Labels, "--vault", temp["vault-public.json"], "--vault-store", vaultStore,
            "--state", temp["state"], "--s3-endpoint", moto.Endpoint.ToString(), "--quiet"));
        Directory.Delete(src, recursive: true);
        Assert.Equal(ExitCodes.Success, await Poscuda("keyring", "rotate", keys, "--compromised"));

        int rekey = await Poscuda(
            "rekey", pub, "--keyring", keys, "--labels", Labels, "--from-version", "1", "--vault", vault, "--vault-store", vaultStore,
            "--state", temp["state"], "--s3-endpoint", moto.Endpoint.ToString(), "--quiet");
        ChildProcessResult verify = await PoscudaTool.RunAsync(
            ["verify", pub, "--keyring", keys, "--labels", Labels, "--vault", vault, "--vault-store", vaultStore, "--s3-endpoint", moto.Endpoint.ToString()]);
        int restore = await Poscuda(
            "restore", pub, temp["restored"], "--vault", vault, "--vault-store", vaultStore, "--s3-endpoint", moto.Endpoint.ToString(), "--quiet");

        Assert.Equal(ExitCodes.Success, rekey);
        Assert.True(verify.ExitCode == ExitCodes.Success, verify.ToString());
        Assert.Contains("wrote " + pub + " with, from its manifest: poscuda-v1", verify.StandardError, StringComparison.Ordinal); // The state was elsewhere.
        Assert.Equal(ExitCodes.Success, restore);
        Keyring keyring = KeyringFile.Load(keys);
        using AmazonS3Client client = moto.CreateClient();
        foreach (string clip in clips)
        {
            string name = Path.GetFileName(clip);
            byte[] original = File.ReadAllBytes(clip);
            using GetObjectResponse published = await client.GetObjectAsync(bucket, "published/" + name);
            using var body = new MemoryStream();
            await published.ResponseStream.CopyToAsync(body);
            Assert.Equal(ProtectionOracle.Expected(keyring, original, name[..1], name), body.ToArray());
            Assert.Equal("2", published.Metadata[OutputMetadata.KeyVersion]);
            Assert.Equal(original, File.ReadAllBytes(Path.Combine(temp["restored"], name)));
        }
    }

    [Fact]
    public async Task Restore_TamperedAndSwappedRecords_AreRejectedReportedAndNotApplied()
    {
        using var temp = new TempDirectory();
        string[] clips = SampleClips()[..10];
        string src = CopyClips(temp["src"], clips);
        string dst = temp["dst"];
        string vaultStore = temp["vault-store"];
        string keys = NewKeyring(temp);
        string vault = temp["vault.json"];
        Assert.Equal(ExitCodes.Success, await Poscuda("vault", "create", vault));
        Assert.Equal(ExitCodes.Success, await Poscuda(
            "protect", src, dst, "--keyring", keys, "--labels", "regex:(?<label>[.]wav)$", "--vault", vault, "--vault-store", vaultStore, "--quiet"));
        string record = Assert.Single(Directory.GetFiles(vaultStore, "*.json", SearchOption.AllDirectories));
        JsonNode json = JsonNode.Parse(File.ReadAllBytes(record))!;
        JsonArray entries = json["entries"]!.AsArray();
        string tampered = (string)entries[0]!["key"]!;
        byte[] bytes = Convert.FromBase64String((string)entries[0]!["sealed"]!);
        bytes[^1] ^= 0x40;
        entries[0]!["sealed"] = Convert.ToBase64String(bytes);
        (string swappedA, string swappedB) = ((string)entries[1]!["key"]!, (string)entries[2]!["key"]!);
        (JsonNode nonce, JsonNode sealedPart) = (entries[1]!["nonce"]!.DeepClone(), entries[1]!["sealed"]!.DeepClone());
        entries[1]!["nonce"] = entries[2]!["nonce"]!.DeepClone();
        entries[1]!["sealed"] = entries[2]!["sealed"]!.DeepClone();
        entries[2]!["nonce"] = nonce;
        entries[2]!["sealed"] = sealedPart;
        File.WriteAllText(record, json.ToJsonString());

        ChildProcessResult result = await PoscudaTool.RunAsync(["restore", dst, temp["out"], "--vault", vault, "--vault-store", vaultStore, "--quiet"]);

        Assert.Equal(ExitCodes.SomeFailed, result.ExitCode);
        foreach (string bad in new[] { tampered, swappedA, swappedB })
        {
            Assert.Contains(Lines(result), l => l.Contains(bad, StringComparison.Ordinal) && l.Contains("fails authentication", StringComparison.Ordinal));
            Assert.False(File.Exists(Path.Combine(temp["out"], bad)), $"{bad} was restored from a rejected record");
        }

        foreach (string clip in clips.Where(c => Path.GetFileName(c) is var n && n != tampered && n != swappedA && n != swappedB))
        {
            Assert.Equal(File.ReadAllBytes(clip), File.ReadAllBytes(Path.Combine(temp["out"], Path.GetFileName(clip))));
        }
    }

    [Fact]
    public async Task Rekey_KilledHalfwayFromRestoreRecords_SameCommandFinishesEveryObjectUnderVersion2()
    {
        using var temp = new TempDirectory();
        string[] clips = SampleClips();
        string src = temp["src"];
        for (int copy = 0; copy < 10; copy++)
        {
            CopyClips(Path.Combine(src, $"c{copy}"), clips);
        }

        const string NestedLabels = @"regex:/(?<label>\d)_";
        string dst = temp["dst"];
        string vaultStore = temp["vault-store"];
        string keys = NewKeyring(temp);
        string vault = temp["vault.json"];
        Assert.Equal(ExitCodes.Success, await Poscuda("vault", "create", vault));
        Assert.Equal(ExitCodes.Success, await Poscuda(
            "protect", src, dst, "--keyring", keys, "--labels", NestedLabels, "--vault", vault, "--vault-store", vaultStore, "--quiet"));
        Directory.Delete(src, recursive: true);
        Assert.Equal(ExitCodes.Success, await Poscuda("keyring", "rotate", keys, "--compromised"));

        string[] args =
        [
            "rekey", dst, "--keyring", keys, "--labels", NestedLabels, "--from-version", "1", "--vault", vault, "--vault-store", vaultStore,
            "--quiet", "--concurrency", "1", "--batch-size", "20",
        ];
        DateTime started = DateTime.UtcNow;
        await using (ChildProcess process = PoscudaTool.Start("rekey", PoscudaTool.Poscuda, args))
        {
            await process.KillWhenAsync(() => Task.FromResult(Replaced(dst, started) >= 150), TimeSpan.FromSeconds(90), "150 re-keyed objects");
        }

        int partial = Replaced(dst, started);
        ChildProcessResult resumed = await PoscudaTool.RunAsync(args, timeout: TimeSpan.FromMinutes(5));

        Assert.InRange(partial, 150, clips.Length * 10 - 1);
        Assert.True(resumed.ExitCode == ExitCodes.Success, resumed.ToString());
        Assert.Contains(Lines(resumed), l => l.StartsWith("Resuming job", StringComparison.Ordinal));
        Keyring keyring = KeyringFile.Load(keys);
        foreach (string clip in clips)
        {
            string name = Path.GetFileName(clip);
            byte[] expected = ProtectionOracle.Expected(keyring, File.ReadAllBytes(clip), name[..1], name);
            for (int copy = 0; copy < 10; copy++)
            {
                Assert.Equal(expected, File.ReadAllBytes(Path.Combine(dst, $"c{copy}", name)));
            }
        }

        ChildProcessResult verify = await PoscudaTool.RunAsync(["verify", dst, "--keyring", keys, "--labels", NestedLabels, "--vault", vault, "--vault-store", vaultStore]);
        Assert.True(verify.ExitCode == ExitCodes.Success, verify.ToString());
    }

    [Fact]
    public async Task LateWriterOfTheOldJob_AfterRekeyOnS3_CannotPutVersion1Back()
    {
        using var temp = new TempDirectory();
        string[] clips = SampleClips()[..12];
        string src = CopyClips(temp["src"], clips);
        string bucket = await moto.CreateBucketAsync();
        string pub = $"s3://{bucket}/published";
        string keys = NewKeyring(temp);
        string[] s3 = ["--state", temp["state"], "--s3-endpoint", moto.Endpoint.ToString(), "--quiet"];
        Assert.Equal(ExitCodes.Success, await Poscuda(["protect", src, pub, "--keyring", keys, "--labels", Labels, .. s3]));
        Keyring oldKeyring = KeyringFile.Load(keys);
        Assert.Equal(ExitCodes.Success, await Poscuda("keyring", "rotate", keys, "--compromised"));
        Assert.Equal(ExitCodes.Success, await Poscuda(["rekey", pub, "--keyring", keys, "--labels", Labels, "--from-version", "1", "--source", src, .. s3]));

        // A worker of the old job that stalled holding a batch wakes up now and writes its version-1 outputs.
        await using var stores = new ObjectStoreCache(moto.Options);
        var stale = new BatchProcessor(oldKeyring, stores);
        var definition = new JobDefinition(src, pub, Labels, new ProtectionParameters(), oldKeyring.KeyId, 1);
        string label = Path.GetFileName(clips[0])[..1];
        BatchObject[] objects = [.. clips.Select(Path.GetFileName).Where(n => n![..1] == label).Select((n, i) => new BatchObject(i + 1, n!, 0, null))];
        var lease = new BatchLease(Guid.CreateVersion7(), definition, 1, label, Guid.NewGuid(), 1, DateTimeOffset.UtcNow.AddMinutes(1), objects);
        IReadOnlyList<ObjectResult> results = await stale.ProcessAsync(lease, 4, CancellationToken.None);

        Assert.NotEmpty(objects);
        Assert.All(results, r =>
        {
            Assert.Equal(ObjectOutcome.Failed, r.Outcome);
            Assert.Contains("key version 2 is published there", r.Reason, StringComparison.Ordinal);
        });
        Keyring keyring = KeyringFile.Load(keys);
        using AmazonS3Client client = moto.CreateClient();
        foreach (BatchObject item in objects)
        {
            using GetObjectResponse published = await client.GetObjectAsync(bucket, "published/" + item.Key);
            using var body = new MemoryStream();
            await published.ResponseStream.CopyToAsync(body);
            Assert.Equal("2", published.Metadata[OutputMetadata.KeyVersion]);
            Assert.Equal(ProtectionOracle.Expected(keyring, File.ReadAllBytes(Path.Combine(src, item.Key)), label, item.Key), body.ToArray());
        }
    }

    [Fact]
    public async Task Verify_ModifiedOutputWrongVersionMetadataAndMissingObject_AreEachReported()
    {
        using var temp = new TempDirectory();
        string[] clips = SampleClips()[..12];
        string src = CopyClips(temp["src"], clips);
        string bucket = await moto.CreateBucketAsync();
        string pub = $"s3://{bucket}/published";
        string keys = NewKeyring(temp);
        string[] s3 = ["--s3-endpoint", moto.Endpoint.ToString()];
        Assert.Equal(ExitCodes.Success, await Poscuda(["protect", src, pub, "--keyring", keys, "--labels", Labels, "--state", temp["state"], "--quiet", .. s3]));
        Assert.Equal(ExitCodes.Success, await Poscuda(["keyring", "rotate", keys]));
        Assert.Equal(ExitCodes.Success, await Poscuda(
            ["rekey", pub, "--keyring", keys, "--labels", Labels, "--from-version", "1", "--source", src, "--state", temp["state"], "--quiet", .. s3]));
        Assert.Equal(ExitCodes.Success, await Poscuda(["verify", pub, "--keyring", keys, "--labels", Labels, "--source", src, .. s3]));
        (string modified, string relabelled, string deleted) = (Path.GetFileName(clips[0]), Path.GetFileName(clips[1]), Path.GetFileName(clips[2]));
        using AmazonS3Client client = moto.CreateClient();
        // A byte outside the patch (which lies at a keyed position) is flipped.
        byte[] original = File.ReadAllBytes(clips[0]);
        Shared.Vault.RestoreEntry patch = Shared.Vault.RestoreEntry.Create(
            modified, Guid.Empty, "", 2, "poscuda-v1", null, original, ProtectionOracle.Expected(KeyringFile.Load(keys), original, modified[..1], modified));
        int outside = patch.Offset > 200 ? 100 : (int)(patch.Offset + patch.Original.Length + 10);
        await RewriteAsync(client, bucket, "published/" + modified, bytes => bytes[outside] ^= 1, metadata => { });
        await RewriteAsync(client, bucket, "published/" + relabelled, _ => { }, metadata => metadata[OutputMetadata.KeyVersion] = "1");
        await client.DeleteObjectAsync(bucket, "published/" + deleted);

        ChildProcessResult result = await PoscudaTool.RunAsync(["verify", pub, "--keyring", keys, "--labels", Labels, "--source", src, .. s3]);

        Assert.Equal(ExitCodes.SomeFailed, result.ExitCode);
        Assert.Contains(Lines(result), l => l.StartsWith("outside-patch: " + modified, StringComparison.Ordinal));
        Assert.Contains(Lines(result), l => l.StartsWith("metadata: " + relabelled, StringComparison.Ordinal) && l.Contains("declares key version 1, but is the spec's output under version 2", StringComparison.Ordinal));
        Assert.Contains(Lines(result), l => l.StartsWith("missing: " + deleted, StringComparison.Ordinal));
        Assert.Equal(3, Lines(result).Count(l => l.Contains(".wav: ", StringComparison.Ordinal)));
    }

    private static async Task RewriteAsync(AmazonS3Client client, string bucket, string key, Action<byte[]> bytes, Action<Dictionary<string, string>> metadata)
    {
        using GetObjectResponse response = await client.GetObjectAsync(bucket, key);
        using var body = new MemoryStream();
        await response.ResponseStream.CopyToAsync(body);
        byte[] data = body.ToArray();
        var meta = response.Metadata.Keys.ToDictionary(k => k["x-amz-meta-".Length..], k => response.Metadata[k]);
        bytes(data);
        metadata(meta);
        var put = new PutObjectRequest { BucketName = bucket, Key = key, InputStream = new MemoryStream(data) };
        foreach ((string name, string value) in meta)
        {
            put.Metadata.Add(name, value);
        }

        await client.PutObjectAsync(put);
    }

    private static string[] Lines(ChildProcessResult result) => result.StandardError.Split('\n');

    // Outputs the rekey has replaced since it started.
    private static int Replaced(string dst, DateTime since)
        => Directory.EnumerateFiles(dst, "*.wav", SearchOption.AllDirectories).Count(f => File.GetLastWriteTimeUtc(f) > since);

    private static string[] SampleClips() => [.. Directory.GetFiles(RepositoryPaths.Sample, "*.wav").Order(StringComparer.Ordinal)];

    private static string CopyClips(string folder, IEnumerable<string> clips)
    {
        Directory.CreateDirectory(folder);
        foreach (string clip in clips)
        {
            File.Copy(clip, Path.Combine(folder, Path.GetFileName(clip)));
        }

        return folder;
    }

    // A vault key (vault.json) and its public half (vault-public.json), through the command line.
    private static async Task<string> NewVaultAsync(TempDirectory temp)
    {
        string vault = temp["vault.json"];
        Assert.Equal(ExitCodes.Success, await Poscuda("vault", "create", vault));
        Assert.Equal(ExitCodes.Success, await Poscuda("vault", "export-public", vault, temp["vault-public.json"]));
        return vault;
    }

    private static string NewKeyring(TempDirectory temp)
    {
        string path = temp["keys.json"];
        KeyringFile.Save(Keyring.Create(), path);
        return path;
    }

    private static Task<int> Poscuda(params string[] args) => PoscudaCli.RunAsync(args);

    // verify with a report, for a failure's message: the exit code and what it found.
    private static async Task<(int ExitCode, string Report)> VerifyAsync(TempDirectory temp, params string[] args)
    {
        string report = temp[$"verify-{Guid.NewGuid():N}.json"];
        int exitCode = await Poscuda([.. args, "--report", report]);
        return (exitCode, $"verify exited {exitCode}: {(File.Exists(report) ? await File.ReadAllTextAsync(report) : "(no report)")}");
    }
}
