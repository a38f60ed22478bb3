using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;
using PosCuda.Coordinator.Cli;
using PosCuda.Pipeline.Tests.Distributed;
using PosCuda.Shared.Ledger;
using PosCuda.Testing;
using PosCuda.Testing.Postgres;
using PosCuda.Testing.Processes;
using Xunit.Abstractions;

namespace PosCuda.Pipeline.Tests.Planning;

/// <summary>A planning killed with SIGKILL is resumed by the same command: same job, nothing planned twice, every object done once.</summary>
[Collection(PostgresServer.CollectionName)]
public sealed class PlanningResumeTests(PostgresServer postgres, DistributedFixture fixture, ITestOutputHelper output)
    : DistributedTestBase(postgres, fixture, output)
{
    [Fact]
    public async Task Protect_KilledWhilePlanning_SameCommandResumesTheJobAndPlansNothingTwice()
    {
        using var temp = new TempDirectory("poscuda-plan-resume");
        var corpus = new PlanningResumeCorpus(temp["src"]);
        string destination = temp["dst"];
        string state = temp["state"];
        string ledgerPath = Path.Combine(state, "ledger.db");
        string[] args =
        [
            "protect", corpus.Root, destination, "--state", state, "--keyring", Fixture.KeyringPath, "--labels", "dir", "--quiet",
            "--batch-size", "50", "--concurrency", "2",
        ];

        Dictionary<string, long> planned;
        await using (ChildProcess first = PoscudaTool.Start("protect", PoscudaTool.Poscuda, args))
        {
            planned = await PlanningResumeCorpus.KillWhilePlanningAsync(
                () => Task.FromResult<DbConnection?>(File.Exists(ledgerPath) ? OpenSqlite(ledgerPath) : null),
                first);
        }

        Guid killedJob;
        await using (IWorkLedger ledger = WorkLedger.Open("sqlite:" + ledgerPath))
        {
            JobRecord job = Assert.Single(await ledger.ListJobsAsync(CancellationToken.None));
            Assert.Equal(JobState.Planning, job.State);
            killedJob = job.JobId;
        }

        Output.WriteLine($"killed while planning with {planned.Count} of {PlanningResumeCorpus.Clips} objects planned");
        Assert.InRange(planned.Count, 1, PlanningResumeCorpus.Clips - 1);

        int code = (await PoscudaTool.RunAsync(args, timeout: TimeSpan.FromMinutes(5))).ExitCode;

        Assert.Equal(ExitCodes.Success, code);
        await using (IWorkLedger ledger = WorkLedger.Open("sqlite:" + ledgerPath))
        {
            await AssertResumedAsync(ledger, killedJob, planned, batches: null);
        }

        corpus.AssertOutputs(destination, Fixture.Keyring);
    }

    [Fact]
    public async Task Submit_KilledWhilePlanning_SameCommandResumesTheJobAndPlansNothingTwice()
    {
        using var temp = new TempDirectory("poscuda-plan-resume");
        var corpus = new PlanningResumeCorpus(temp["src"]);
        string destination = temp["dst"];
        string ledgerLocation = await Postgres.CreateDatabaseAsync();
        string[] args = ["submit", corpus.Root, destination, "--ledger", ledgerLocation, "--keyring", Fixture.KeyringPath, "--labels", "dir", "--batch-size", "50"];

        Dictionary<string, long> planned;
        await using (ChildProcess first = PoscudaTool.Start("submit", PoscudaTool.Poscuda, args))
        {
            planned = await PlanningResumeCorpus.KillWhilePlanningAsync(
                async () =>
                {
                    var connection = new NpgsqlConnection(ledgerLocation);
                    await connection.OpenAsync();
                    return connection;
                },
                first);
        }

        await using IWorkLedger ledger = WorkLedger.Open(ledgerLocation);
        JobRecord killed = Assert.Single(await ledger.ListJobsAsync(CancellationToken.None));
        Assert.Equal(JobState.Planning, killed.State);
        Output.WriteLine($"killed while planning with {planned.Count} of {PlanningResumeCorpus.Clips} objects planned");
        Assert.InRange(planned.Count, 1, PlanningResumeCorpus.Clips - 1);

        ChildProcessResult resumed = await PoscudaTool.RunAsync(args, timeout: TimeSpan.FromMinutes(5));
        (int code, string stdout) = (resumed.ExitCode, resumed.StandardOutput);

        Assert.Equal(ExitCodes.Success, code);
        Assert.Equal(killed.JobId.ToString("D"), stdout.Trim().Split('\n')[^1].Trim());
        // A one-coordinator, one-worker cluster finishes the resumed job.
        int port = Loopback.FreePort();
        string[] cluster = ["--hostname", "127.0.0.1", "--stable-after", "2", "--seed", $"127.0.0.1:{port}"];
        await using (ChildProcess coordinator = PoscudaTool.Start("coordinator", PoscudaTool.Poscuda, ["coordinator", "--ledger", ledgerLocation, "--port", $"{port}", .. cluster]))
        await using (ChildProcess worker = PoscudaTool.Start("worker", PoscudaTool.Worker, ["--ledger", ledgerLocation, "--keyring", Fixture.KeyringPath, "--concurrency", "4", "--port", "0", .. cluster]))
        {
            await Poll.UntilAsync(
                async () => (await ledger.GetJobAsync(killed.JobId, CancellationToken.None))!.State,
                state => state == JobState.Completed,
                TimeSpan.FromMinutes(5),
                "the resumed job to complete",
                () => coordinator.Describe() + Environment.NewLine + worker.Describe());
        }

        await AssertResumedAsync(ledger, killed.JobId, planned, batches: 4 * 100);
        corpus.AssertOutputs(destination, Fixture.Keyring);
    }

    private static SqliteConnection OpenSqlite(string path)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWrite, Pooling = false, DefaultTimeout = 1 }.ToString());
        connection.Open();
        return connection;
    }

    // One job, every key once with its first object id (not planned again), every object and batch done.
    private static async Task AssertResumedAsync(IWorkLedger ledger, Guid killedJob, IReadOnlyDictionary<string, long> planned, int? batches)
    {
        JobRecord job = Assert.Single(await ledger.ListJobsAsync(CancellationToken.None));
        Assert.Equal(killedJob, job.JobId);
        var objects = new Dictionary<string, ObjectRecord>(StringComparer.Ordinal);
        await foreach (ObjectRecord record in ledger.ReadObjectsAsync(killedJob, CancellationToken.None))
        {
            objects.Add(record.Key, record);
        }

        Assert.Equal(PlanningResumeCorpus.Clips, objects.Count);
        Assert.All(objects.Values, o => Assert.Equal(ObjectOutcome.Done, o.Outcome));
        Assert.All(planned, pair => Assert.Equal(pair.Value, objects[pair.Key].ObjectId));
        JobStatus status = (await ledger.GetJobStatusAsync(killedJob, CancellationToken.None))!;
        Assert.Equal(PlanningResumeCorpus.Clips, status.Totals.Done);
        Assert.Equal((0L, 0L, 0L), (status.Totals.PendingBatches, status.Totals.LeasedBatches, status.Totals.DeadBatches));
        if (batches is int expected)
        {
            // Without streaming, the restart tops up the open batches: 5,000 objects per class in batches of 50, none cut short.
            Assert.Equal(expected, status.Totals.DoneBatches);
        }
    }
}
