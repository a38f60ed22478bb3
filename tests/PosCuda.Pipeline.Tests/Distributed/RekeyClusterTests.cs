using Amazon.S3.Model;
using PosCuda.Coordinator.Cli;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Protection;
using PosCuda.Shared.Vault;
using PosCuda.Testing;
using PosCuda.Testing.Postgres;
using PosCuda.Testing.Processes;
using PosCuda.Testing.Storage;
using Xunit.Abstractions;

namespace PosCuda.Pipeline.Tests.Distributed;

/// <summary>A rekey on the cluster: a job protected with restore records, its originals deleted, the keyring rotated,
/// then <c>submit --rekey</c> run by three workers holding the vault key, one of them SIGKILLed mid-batch.</summary>
[Collection(PostgresServer.CollectionName)]
public sealed class RekeyClusterTests(PostgresServer postgres, DistributedFixture fixture, ITestOutputHelper output)
    : DistributedTestBase(postgres, fixture, output)
{
    [Fact]
    public async Task SubmitRekey_FromRestoreRecordsThreeWorkersOneKilled_EveryObjectUnderTheNewVersion()
    {
        string vaultBucket = await Fixture.Moto.CreateBucketAsync();
        string vaultStore = $"s3://{vaultBucket}/records";
        string vault = Fixture.Scratch[$"vault-{Guid.NewGuid():N}.json"];
        string vaultPublic = vault + ".public";
        using (VaultKey key = VaultKey.Create())
        {
            key.Save(vault);
            key.Save(vaultPublic, publicOnly: true);
        }

        await using DistributedJob job = await DistributedJob.SubmitAsync(
            Fixture, Postgres, batchSize: 5, options: ["--vault", vaultPublic, "--vault-store", vaultStore]);
        job.StartCoordinator("coordinator");
        ChildProcess protector = job.StartWorker("protector", null, 4);
        await job.WaitCompletedAsync(TimeSpan.FromSeconds(90));
        await job.AssertOutputsAsync();
        await protector.KillAsync();

        // The originals are deleted, and the active version (2) leaks.
        foreach (SampleClip clip in job.Clips.Values)
        {
            await Fixture.Client.DeleteObjectAsync(job.Bucket, "raw/" + clip.Key);
        }

        string rotated = Fixture.Scratch[$"rotated-{Guid.NewGuid():N}.json"];
        KeyringFile.Save(Fixture.Keyring.Rotate(compromised: true), rotated);
        Keyring keyring = KeyringFile.Load(rotated);
        int submitted = await PoscudaCli.RunAsync(
        [
            "submit", "--rekey", job.Destination, "--from-version", DistributedJob.Text(Fixture.Keyring.Active), "--keyring", rotated,
            "--labels", DistributedFixture.Labels, "--vault", vault, "--vault-store", vaultStore, "--ledger", job.LedgerLocation,
            "--batch-size", "5", "--s3-endpoint", Fixture.Moto.Endpoint.ToString(),
        ]);
        Assert.Equal(ExitCodes.Success, submitted);
        JobRecord rekey = Assert.Single(await job.Ledger.ListJobsAsync(CancellationToken.None), j => j.Definition.Kind == JobKind.Rekey);
        Assert.Null(rekey.Definition.Operation!.Originals);
        Assert.DoesNotContain("PRIVATE", JobOperation.ToText(rekey.Definition.Operation), StringComparison.OrdinalIgnoreCase);

        job.WorkerKeyringPath = rotated;
        await using var slow = FaultInjectingProxy.Slow(Fixture.Moto.Endpoint, TimeSpan.FromSeconds(1));
        ChildProcess victim = job.StartWorker("victim", slow.Endpoint, 1, "--vault", vault);
        await Poll.UntilAsync(() => StatusAsync(job, rekey.JobId), s => s.Classes.Sum(c => c.LeasedBatches) >= 1, TimeSpan.FromSeconds(60), "the victim to claim a batch", job.Diagnostics);
        job.StartWorker("worker-1", null, 2, "--vault", vault);
        job.StartWorker("worker-2", null, 2, "--vault", vault);
        await Poll.UntilAsync(() => StatusAsync(job, rekey.JobId), s => StatusCommand.Summarise(s).Done >= 30, TimeSpan.FromSeconds(60), "progress", job.Diagnostics);
        Assert.False(victim.HasExited, victim.Describe());
        await job.KillHoldingLeaseAsync(victim, "victim", rekey.JobId);

        JobStatus status = await Poll.UntilAsync(
            () => StatusAsync(job, rekey.JobId), s => s.Job.State == JobState.Completed, TimeSpan.FromSeconds(120), "the rekey to complete", job.Diagnostics);

        StatusCommand.Totals totals = StatusCommand.Summarise(status);
        Output.WriteLine($"rekey: {totals.Done} done, {totals.Failed} failed, {totals.Retries} retries");
        Assert.Equal((100L, 100L, 0L), (totals.Objects, totals.Done, totals.Failed + totals.Dead));
        Assert.True(totals.Retries >= 1, "the victim's batch was never claimed again: " + job.Diagnostics());
        await Parallel.ForEachAsync(job.Clips.Values, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (clip, ct) =>
        {
            byte[] output = await Fixture.GetBytesAsync(job.Bucket, "protected/" + clip.Key);
            Assert.True(ProtectionOracle.Expected(keyring, clip.Bytes, clip.Label, clip.Key).AsSpan().SequenceEqual(output), clip.Key);
            GetObjectMetadataResponse head = await Fixture.Client.GetObjectMetadataAsync(job.Bucket, "protected/" + clip.Key, ct);
            Assert.Equal(DistributedJob.Text(keyring.Active), head.Metadata["poscuda-key-version"]);
            Assert.Equal(rekey.JobId.ToString("D"), head.Metadata["poscuda-job"]);
        });
    }

    private static async Task<JobStatus> StatusAsync(DistributedJob job, Guid jobId)
        => await job.Ledger.GetJobStatusAsync(jobId, CancellationToken.None) ?? throw new InvalidOperationException($"no job {jobId}");
}
