using System.Text.Json;
using PosCuda.Coordinator.Cli;
using PosCuda.Shared.Ledger;
using PosCuda.Testing.Postgres;
using PosCuda.Testing.Processes;
using Xunit.Abstractions;

namespace PosCuda.Pipeline.Tests.Distributed;

[Collection(PostgresServer.CollectionName)]
public sealed class PoisonBatchTests(PostgresServer postgres, DistributedFixture fixture, ITestOutputHelper output)
    : DistributedTestBase(postgres, fixture, output)
{
    [Fact]
    public async Task Job_OneClassArchivedToGlacier_ItsBatchesDeadLetteredOthersDone()
    {
        // Class 7's clips are archived: every GET of them fails (InvalidObjectState), on every attempt, on every worker.
        await using DistributedJob job = await DistributedJob.SubmitAsync(
            Fixture, Postgres, batchSize: 5, maxAttempts: 2, archived: new HashSet<string>(StringComparer.Ordinal) { "7" });
        job.StartCoordinator("coordinator");
        job.StartWorker("worker-1");
        job.StartWorker("worker-2");

        JobStatus status = await job.WaitCompletedAsync(TimeSpan.FromSeconds(60));

        Output.WriteLine(StatusCommand.Format(status));
        ClassStatus poisoned = Assert.Single(status.Classes, c => c.Label == "7");
        Assert.Equal((10L, 0L, 10L, 2, 0, 2), (poisoned.Objects, poisoned.Done, poisoned.Dead, poisoned.DeadBatches, poisoned.DoneBatches, poisoned.Retries));
        Assert.All(status.Classes.Where(c => c.Label != "7"), c => Assert.Equal((10L, 0L, 2, 0), (c.Done, c.Dead, c.DoneBatches, c.Retries)));
        Assert.Equal(2, status.DeadLetters.Count);
        Assert.All(status.DeadLetters, d =>
        {
            Assert.Equal(("7", 2), (d.Label, d.Attempts));
            Assert.Contains("InvalidObjectState", d.LastError, StringComparison.Ordinal);
        });

        IReadOnlyList<ObjectRecord> records = await job.ReadObjectsAsync();
        Assert.All(records.Where(r => r.Label == "7"), r =>
        {
            Assert.Equal(ObjectOutcome.Dead, r.Outcome);
            Assert.Contains("dead-lettered after 2 attempts", r.Reason, StringComparison.Ordinal);
        });
        Assert.Equal(90, records.Count(r => r.Outcome == ObjectOutcome.Done));
        IReadOnlyList<string> outputs = await Fixture.ListKeysAsync(job.Bucket, "protected/");
        Assert.Equal(90, outputs.Count(k => k.EndsWith(".wav", StringComparison.Ordinal)));
        Assert.DoesNotContain(outputs, k => k.StartsWith("7_", StringComparison.Ordinal));
        Assert.Equal([$"{job.JobId:D}.json"], await job.ManifestKeysAsync());

        ChildProcessResult cli = await PoscudaTool.RunAsync(
            ["status", job.JobId.ToString("D"), "--ledger", job.LedgerLocation, "--json"], timeout: TimeSpan.FromSeconds(30));
        Assert.True(cli.ExitCode == ExitCodes.Success, cli.ToString());
        using JsonDocument report = JsonDocument.Parse(cli.StandardOutput);
        JsonElement root = report.RootElement;
        Assert.Equal(("completed", 90, 10), (root.GetProperty("state").GetString(), root.GetProperty("done").GetInt64(), root.GetProperty("dead").GetInt64()));
        JsonElement[] deadLetters = [.. root.GetProperty("deadLetters").EnumerateArray()];
        Assert.Equal(2, deadLetters.Length);
        Assert.All(deadLetters, d => Assert.Contains("InvalidObjectState", d.GetProperty("lastError").GetString(), StringComparison.Ordinal));
    }
}
