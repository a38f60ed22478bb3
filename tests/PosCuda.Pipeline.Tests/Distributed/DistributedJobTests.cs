using System.Text.Json;
using PosCuda.Coordinator.Cli;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Protection;
using PosCuda.Testing.Postgres;
using PosCuda.Testing.Processes;
using PosCuda.Testing.Storage;
using Xunit.Abstractions;

namespace PosCuda.Pipeline.Tests.Distributed;

[Collection(PostgresServer.CollectionName)]
public sealed class DistributedJobTests(PostgresServer postgres, DistributedFixture fixture, ITestOutputHelper output)
    : DistributedTestBase(postgres, fixture, output)
{
    [Fact]
    public async Task Run_ThreeWorkersOneKilledMidRun_CompletesWithSpecOutputsMetadataAndManifest()
    {
        await using DistributedJob job = await DistributedJob.SubmitAsync(Fixture, Postgres, batchSize: 5);
        await using var slow = FaultInjectingProxy.Slow(Fixture.Moto.Endpoint, TimeSpan.FromSeconds(1)); // The victim's every S3 request takes a second: a batch of 5 takes 10 s.
        job.StartCoordinator("coordinator");
        ChildProcess victim = job.StartWorker("victim", slow.Endpoint, concurrency: 1);
        await job.WaitForAsync(s => s.Classes.Sum(c => c.LeasedBatches) == 1, TimeSpan.FromSeconds(120), "the victim to claim a batch");
        job.StartWorker("worker-1");
        job.StartWorker("worker-2");
        JobStatus midRun = await job.WaitForAsync(s => StatusCommand.Summarise(s).Done >= 30, TimeSpan.FromSeconds(120), "the other workers to make progress");

        Assert.False(victim.HasExited, victim.Describe());
        Assert.True(slow.RequestCount >= 1, "the victim has not touched its batch yet");
        await job.KillHoldingLeaseAsync(victim, "victim");

        JobStatus status = await job.WaitCompletedAsync(TimeSpan.FromSeconds(60));
        StatusCommand.Totals totals = StatusCommand.Summarise(status);
        Output.WriteLine($"killed the victim at {StatusCommand.Summarise(midRun).Done}/100 done after {slow.RequestCount} of its requests; retries {totals.Retries}");
        Assert.InRange(StatusCommand.Summarise(midRun).Done, 30, 95);
        Assert.Equal(100, totals.Objects);
        Assert.Equal(100, totals.Done);
        Assert.Equal(0, totals.Failed + totals.Dead);
        Assert.True(totals.Retries >= 1, "the victim's batch was never claimed again: " + job.Diagnostics());
        Assert.Equal(10, status.Classes.Count);
        Assert.All(status.Classes, c => Assert.Equal((10, 2, 0), (c.Done, c.DoneBatches, c.LeasedBatches + c.PendingBatches)));

        IReadOnlyList<ObjectRecord> records = await job.ReadObjectsAsync();
        Assert.Equal(100, records.Count);
        Assert.All(records, r => Assert.Equal((ObjectOutcome.Done, Fixture.Keyring.Active), (r.Outcome, r.KeyVersion)));
        Assert.All(records, r => Assert.Equal(job.Clips[r.Key].ETag, r.SourceETag));
        Assert.Equal(2, Fixture.Keyring.Active); // The keyring was rotated: version 1 would be wrong.

        await job.AssertOutputsAsync();
        await job.AssertMetadataAsync();
        Assert.Equal([$"{job.JobId:D}.json"], await job.ManifestKeysAsync());
        using JsonDocument manifest = await job.ReadManifestAsync();
        Assert.Equal(job.JobId.ToString("D"), manifest.RootElement.GetProperty("jobId").GetString());
        Assert.Equal(100, manifest.RootElement.GetProperty("objects").GetArrayLength());
        Assert.Equal(100, manifest.RootElement.GetProperty("totals").GetProperty("protected").GetInt64());
    }

    [Fact]
    public async Task Run_SpecV2WithCodeOptions_WorkersWriteWhatTheSpecSays()
    {
        // The job's v2 parameters travel through PostgreSQL to worker processes, which must protect with exactly them.
        await using DistributedJob job = await DistributedJob.SubmitAsync(
            Fixture, Postgres, batchSize: 10, options: ["--spec", "poscuda-v2", "--code-slots", "6", "--code-weight", "3", "--code-snr", "18"]);
        Assert.Equal(new SpectralCodeParameters(slots: 6, weight: 3, targetSnr: 18), job.Parameters.Code);
        job.StartCoordinator("coordinator");
        job.StartWorker("worker-1");
        job.StartWorker("worker-2");

        JobStatus status = await job.WaitCompletedAsync(TimeSpan.FromSeconds(60));

        StatusCommand.Totals totals = StatusCommand.Summarise(status);
        Assert.Equal((100, 100, 0L), (totals.Objects, totals.Done, totals.Failed + totals.Dead));
        await job.AssertOutputsAsync();
        await job.AssertMetadataAsync();
    }

    [Fact]
    public async Task Run_WorkerOnTheIlgpuEngine_GathersEachBatchAndWritesWhatTheSpecSays()
    {
        // The ILGPU engine (on ILGPU's CPU accelerator here) prefers batches: each batch's patches go through one engine call. Told to
        // take 10 objects a lease (a GPU node's default is larger), it merges each class's planned batches of 5 two by two.
        await using DistributedJob job = await DistributedJob.SubmitAsync(Fixture, Postgres, batchSize: 5);
        int planned = (await job.StatusAsync()).Classes.Sum(c => c.PendingBatches);
        job.StartCoordinator("coordinator");
        ChildProcess worker = job.StartWorker("worker-ilgpu", null, 4, "--device", "ilgpu-cpu", "--claim-objects", "10");

        string joining = await worker.WaitForOutputAsync(line => line.Contains("joining the cluster", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
        JobStatus status = await job.WaitCompletedAsync(TimeSpan.FromSeconds(120));

        // No GPU: the worker role only, never gpu.
        Assert.Contains("as worker:", joining, StringComparison.Ordinal);
        Assert.Contains("engine ilgpu-cpu, up to 10 objects a lease", joining, StringComparison.Ordinal);
        StatusCommand.Totals totals = StatusCommand.Summarise(status);
        Assert.Equal((100, 100, 0L), (totals.Objects, totals.Done, totals.Failed + totals.Dead));
        int leases = status.Classes.Sum(c => c.DoneBatches);
        Output.WriteLine($"{planned} batches planned, {leases} leases of up to 10 objects");
        Assert.Equal(status.Classes.Sum(c => (int)Math.Ceiling(c.Objects / 5.0)), planned);
        Assert.Equal(status.Classes.Sum(c => (int)Math.Ceiling(c.Objects / 10.0)), leases);
        await job.AssertOutputsAsync();
        await job.AssertMetadataAsync();
    }

    [Fact]
    public async Task Protect_SameCorpusWithEmbeddedLedger_OutputsIdenticalToDistributedRun()
    {
        await using DistributedJob job = await DistributedJob.SubmitAsync(Fixture, Postgres, batchSize: 10);
        job.StartCoordinator("coordinator");
        job.StartWorker("worker", null, 4);
        await job.WaitCompletedAsync(TimeSpan.FromSeconds(90));

        string state = Fixture.Scratch[$"state-{Guid.NewGuid():N}"];
        int code = await PoscudaCli.RunAsync(
        [
            "protect", job.Source, $"s3://{job.Bucket}/local", "--keyring", Fixture.KeyringPath, "--labels", DistributedFixture.Labels,
            "--s3-endpoint", Fixture.Moto.Endpoint.ToString(), "--state", state, "--quiet",
        ]);

        Assert.Equal(ExitCodes.Success, code);
        await job.AssertOutputsAsync("local/");
        foreach (string key in job.Clips.Keys)
        {
            byte[] distributed = await Fixture.GetBytesAsync(job.Bucket, "protected/" + key);
            byte[] local = await Fixture.GetBytesAsync(job.Bucket, "local/" + key);
            Assert.True(distributed.AsSpan().SequenceEqual(local), key);
        }

        Assert.Single(await Fixture.ListKeysAsync(job.Bucket, "local/.poscuda/manifests/"));
    }
}
