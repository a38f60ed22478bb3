using System.Text.Json;
using System.Text.RegularExpressions;
using PosCuda.Coordinator.Cli;
using PosCuda.Pipeline.Tests.Protect;
using PosCuda.Pipeline.Tests.Telemetry;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Protection;
using PosCuda.Testing;
using PosCuda.Testing.Processes;

namespace PosCuda.Pipeline.Tests.Status;

public sealed class StatusCommandTests : IClassFixture<ProtectFixture>
{
    private readonly ProtectFixture _fixture;

    public StatusCommandTests(ProtectFixture fixture)
    {
        _fixture = fixture;
    }

    [Fact]
    public async Task GetJobStatusAsync_AfterProtectJob_ReportsLastMinuteThroughputAndFormatShowsIt()
    {
        using var temp = new TempDirectory();
        string dst = temp["out"];
        int code = await PoscudaCli.RunAsync(
            ["protect", RepositoryPaths.Sample, dst, "--keyring", _fixture.KeyringPath, "--labels", ProtectFixture.DigitLabels, "--quiet"]);
        Assert.Equal(ExitCodes.Success, code);

        await using IWorkLedger ledger = WorkLedger.Open("sqlite:" + Path.Combine(dst + ".poscuda-state", "ledger.db"));
        JobRecord job = Assert.Single(await ledger.ListJobsAsync(CancellationToken.None));
        JobStatus? status = await ledger.GetJobStatusAsync(job.JobId, CancellationToken.None);

        Assert.NotNull(status);
        Assert.Equal(JobState.Completed, status.Job.State);
        Assert.Equal(100, status.ObjectsLastMinute);
        long outputBytes = Directory.GetFiles(dst, "*.wav").Sum(f => new FileInfo(f).Length);
        Assert.True(status.BytesLastMinute > 0);
        Assert.Equal(outputBytes, status.BytesLastMinute);
        Assert.Equal(10, status.Classes.Count);

        // The job ran for about a second: the rate is over that, not over the whole minute.
        StatusCommand.Totals totals = StatusCommand.Summarise(status);
        Assert.Equal(100, totals.Done);
        Assert.Equal(TimeSpan.Zero, totals.Eta);
        Assert.InRange(totals.Window, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30));
        Assert.True(totals.ObjectsPerSecond > 100 / 30.0, $"{totals.ObjectsPerSecond} objects/s");

        string text = StatusCommand.Format(status);
        Assert.Contains($"job {job.JobId:D}: completed, protect", text, StringComparison.Ordinal);
        Assert.Contains("100/100 objects (100.0%): 100 protected, 0 failed, 0 dead", text, StringComparison.Ordinal);
        Assert.Matches(@"throughput \(last \d+ s\): \d+\.\d objects/s, \d+\.\d\d MB/s; ETA 00:00:00", text);
        for (int label = 0; label < 10; label++)
        {
            // class, objects, done, failed, dead, pending, leased, retries
            Assert.Matches(new Regex($@"^  {label} +10 +10 +0 +0 +0 +0 +0\r?$", RegexOptions.Multiline), text);
        }
    }

    [Fact]
    public void Summarise_JobYoungerThanAMinute_RateIsOverTheTimeItRan()
    {
        DateTimeOffset now = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
        JobStatus status = Status(created: now.AddSeconds(-10), finished: null, objects: 1000, lastMinute: 400, bytes: 4_000_000);

        StatusCommand.Totals totals = StatusCommand.Summarise(status, now);

        Assert.Equal(TimeSpan.FromSeconds(10), totals.Window);
        Assert.Equal(40, totals.ObjectsPerSecond, precision: 9);
        Assert.Equal(0.4, totals.MegabytesPerSecond, precision: 9);
        Assert.Equal(TimeSpan.FromSeconds(15), totals.Eta); // 600 left at 40 a second
        Assert.Contains("throughput (last 10 s): 40.0 objects/s, 0.40 MB/s; ETA 00:00:15", StatusCommand.Format(status, now), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(15, "00:00:15")]
    [InlineData(3 * 3600 + 4 * 60 + 5, "03:04:05")]
    [InlineData(30 * 3600, "30:00:00")]
    [InlineData(125 * 3600 + 59, "125:00:59")]
    public void FormatEta_AnyLength_HoursRunPastADay(int seconds, string expected)
    {
        Assert.Equal(expected, StatusCommand.FormatEta(TimeSpan.FromSeconds(seconds)));
    }

    [Fact]
    public void Summarise_JobRunningLongerThanAMinute_RateIsOverTheMinute()
    {
        DateTimeOffset now = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
        JobStatus status = Status(created: now.AddHours(-1), finished: null, objects: 10_000, lastMinute: 600, bytes: 60_000_000);

        StatusCommand.Totals totals = StatusCommand.Summarise(status, now);

        Assert.Equal(TimeSpan.FromSeconds(60), totals.Window);
        Assert.Equal(10, totals.ObjectsPerSecond, precision: 9);
        Assert.Equal(1, totals.MegabytesPerSecond, precision: 9);
        Assert.Contains("throughput (last minute): 10.0 objects/s, 1.00 MB/s", StatusCommand.Format(status, now), StringComparison.Ordinal);
    }

    [Fact]
    public void Summarise_JobFinishedWithinTheMinute_RateStopsAtTheFinish()
    {
        DateTimeOffset now = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
        JobStatus status = Status(created: now.AddSeconds(-50), finished: now.AddSeconds(-30), objects: 200, lastMinute: 200, bytes: 2_000_000);

        StatusCommand.Totals totals = StatusCommand.Summarise(status, now);

        Assert.Equal(TimeSpan.FromSeconds(20), totals.Window);
        Assert.Equal(10, totals.ObjectsPerSecond, precision: 9);
        Assert.Equal(TimeSpan.Zero, totals.Eta);
    }

    [Fact]
    public async Task Status_SqliteLedgerOfProtectJob_ListsJobAndPrintsProgress()
    {
        using var temp = new TempDirectory();
        string dst = temp["out"];
        int code = await PoscudaCli.RunAsync(
            ["protect", RepositoryPaths.Sample, dst, "--keyring", _fixture.KeyringPath, "--labels", ProtectFixture.DigitLabels, "--quiet"]);
        Assert.Equal(ExitCodes.Success, code);
        string ledger = "sqlite:" + Path.Combine(dst + ".poscuda-state", "ledger.db");

        ChildProcessResult list = await PoscudaTool.RunAsync(["status", "--ledger", ledger]);
        Assert.True(list.ExitCode == ExitCodes.Success, list.ToString());
        string line = Assert.Single(list.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("completed", line, StringComparison.Ordinal);
        string jobId = line[..36];

        ChildProcessResult text = await PoscudaTool.RunAsync(["status", jobId, "--ledger", ledger]);
        ChildProcessResult json = await PoscudaTool.RunAsync(["status", jobId, "--ledger", ledger, "--json"]);

        Assert.True(text.ExitCode == ExitCodes.Success, text.ToString());
        Assert.Contains("100/100 objects", text.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("objects/s", text.StandardOutput, StringComparison.Ordinal);
        Assert.True(json.ExitCode == ExitCodes.Success, json.ToString());
        using JsonDocument document = JsonDocument.Parse(json.StandardOutput);
        Assert.Equal(jobId, document.RootElement.GetProperty("jobId").GetString());
        Assert.Equal("protect", document.RootElement.GetProperty("kind").GetString());
        Assert.Equal(100, document.RootElement.GetProperty("done").GetInt64());
        Assert.True(document.RootElement.GetProperty("objectsPerSecond").GetDouble() > 0);
        Assert.Equal(10, document.RootElement.GetProperty("classes").GetArrayLength());
    }

    [Fact]
    public async Task Status_MissingSqliteLedger_IsUsageErrorAndCreatesNothing()
    {
        using var temp = new TempDirectory();
        string path = Path.Combine(temp["state"], "ledger.db");

        ChildProcessResult run = await PoscudaTool.RunAsync(["status", "--ledger", "sqlite:" + path]);

        Assert.True(run.ExitCode == ExitCodes.Usage, run.ToString());
        Assert.Contains("No SQLite ledger", run.StandardError, StringComparison.Ordinal);
        Assert.False(Directory.Exists(temp["state"]));
    }

    [Theory]
    [InlineData(JobKind.Rekey, "running, rekey of key version 1 to 2 in place", "400 re-keyed")]
    [InlineData(JobKind.Restore, "running, restore of originals from restore records", "400 restored")]
    public void Format_RekeyAndRestoreJobs_SayWhatTheyDoAndCountInTheirOwnWords(JobKind kind, string what, string done)
    {
        DateTimeOffset now = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
        JobStatus status = Status(created: now.AddSeconds(-10), finished: null, objects: 1000, lastMinute: 400, bytes: 4_000_000,
            new JobOperation(kind, FromVersion: kind == JobKind.Rekey ? 1 : 0, VaultKeyId: "v1"), keyVersion: 2);

        string text = StatusCommand.Format(status, now);

        Assert.Contains($"{status.Job.JobId:D}: {what}", text, StringComparison.Ordinal);
        Assert.Contains($"400/1000 objects (40.0%): {done}, 0 failed", text, StringComparison.Ordinal);
        Assert.DoesNotContain("protected", text, StringComparison.Ordinal);
    }

    private static JobStatus Status(
        DateTimeOffset created, DateTimeOffset? finished, long objects, long lastMinute, long bytes, JobOperation? operation = null, int keyVersion = 1)
    {
        var definition = new JobDefinition("/src", "/dst", "dir", new ProtectionParameters(), "0123456789abcdef", keyVersion, 5, Operation: operation);
        var job = new JobRecord(Guid.NewGuid(), definition, finished is null ? JobState.Running : JobState.Completed, created, finished);
        long done = finished is null ? objects - 600 : objects;
        ClassStatus[] classes = [new ClassStatus("a", objects, done, 0, 0, 0, 0, 0, 0, 0)];
        return new JobStatus(job, classes, lastMinute, bytes, 0, bytes, []);
    }
}
