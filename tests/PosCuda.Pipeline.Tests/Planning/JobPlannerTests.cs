using PosCuda.Coordinator.Planning;
using PosCuda.Shared.Labels;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Protection;
using PosCuda.Shared.Storage;
using PosCuda.Testing;

namespace PosCuda.Pipeline.Tests.Planning;

/// <summary>Planning counts the batches the ledger cut, never its own estimate, over a real SQLite ledger and folder.</summary>
public sealed class JobPlannerTests : IDisposable
{
    private readonly TempDirectory _dir = new("poscuda-planner");

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(7)]
    [InlineData(10)]
    [InlineData(25)]
    [InlineData(1000)]
    public async Task PlanAsync_ClassesSpanningSeveralChunks_BatchesAreWhatTheLedgerCut(int batchSize)
    {
        // Class a spans three chunks of 10 (25 objects), b two (12), c one (1): a per-chunk count would over-count.
        Dictionary<string, int> classes = new() { ["a"] = 25, ["b"] = 12, ["c"] = 1 };
        string source = WriteCorpus(classes);
        await using IWorkLedger ledger = await OpenLedgerAsync();

        PlanSummary plan = await new JobPlanner(ledger, chunkSize: 10).PlanAsync(
            Definition(source), new FileObjectStore(source), LabelRule.Parse("dir"), batchSize, streamEvery: 0, onCreated: null, CancellationToken.None);

        long expected = classes.Values.Sum(n => (n + batchSize - 1) / batchSize);
        JobStatus status = (await ledger.GetJobStatusAsync(plan.JobId, CancellationToken.None))!;
        Assert.Equal(expected, plan.Batches);
        Assert.Equal(expected, status.Totals.PendingBatches);
        Assert.Equal(38, plan.Planned);
        Assert.Equal(3, plan.Classes);
        Assert.All(status.Classes, c => Assert.Equal((classes[c.Label] + batchSize - 1) / batchSize, c.PendingBatches));
    }

    [Theory]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(25)]
    public async Task PlanAsync_Streamed_BatchesAreWhatTheLedgerCut(int batchSize)
    {
        // Streaming opens each chunk's batches to workers, so a class's last batch of a chunk is not topped up later.
        string source = WriteCorpus(new Dictionary<string, int> { ["a"] = 25, ["b"] = 12 });
        await using IWorkLedger ledger = await OpenLedgerAsync();

        PlanSummary plan = await new JobPlanner(ledger).PlanAsync(
            Definition(source), new FileObjectStore(source), LabelRule.Parse("dir"), batchSize, streamEvery: 10, onCreated: null, CancellationToken.None);

        JobStatus status = (await ledger.GetJobStatusAsync(plan.JobId, CancellationToken.None))!;
        Assert.Equal(status.Totals.PendingBatches, plan.Batches);
        Assert.Equal(37, status.Totals.Objects);
    }

    [Fact]
    public async Task PlanAsync_OneClassExactlyFillingChunks_NoEmptyOrExtraBatch()
    {
        string source = WriteCorpus(new Dictionary<string, int> { ["a"] = 20 });
        await using IWorkLedger ledger = await OpenLedgerAsync();

        PlanSummary plan = await new JobPlanner(ledger, chunkSize: 10).PlanAsync(
            Definition(source), new FileObjectStore(source), LabelRule.Parse("dir"), batchSize: 5, streamEvery: 0, onCreated: null, CancellationToken.None);

        Assert.Equal(4, plan.Batches);
        Assert.Equal(4, (await ledger.GetPlanningProgressAsync(plan.JobId, CancellationToken.None)).Batches);
    }

    [Fact]
    public async Task ResumeAsync_AfterSomeChunks_PlansOnlyTheRestAndCountsEveryBatchOnce()
    {
        string source = WriteCorpus(new Dictionary<string, int> { ["a"] = 13, ["b"] = 9 });
        await using IWorkLedger ledger = await OpenLedgerAsync();
        var planner = new JobPlanner(ledger);
        Guid jobId = await ledger.CreateJobAsync(Definition(source), CancellationToken.None);

        // What an interrupted planning leaves: the first chunk of the listing (a/00000 .. a/00009) in one transaction.
        var store = new FileObjectStore(source);
        var first = new List<PlannedObject>();
        await foreach (StoredObject item in store.ListAsync(CancellationToken.None))
        {
            if (first.Count < 10)
            {
                first.Add(new PlannedObject(item.Key, "a", item.Size, item.ETag));
            }
        }

        Assert.Equal(3, await ledger.PlanObjectsAsync(jobId, first, [], 4, CancellationToken.None));
        var before = new Dictionary<string, long>();
        await foreach (ObjectRecord record in ledger.ReadObjectsAsync(jobId, CancellationToken.None))
        {
            before[record.Key] = record.ObjectId;
        }

        PlanSummary plan = await planner.ResumeAsync(jobId, store, LabelRule.Parse("dir"), 4, streamEvery: 0, CancellationToken.None);

        Assert.Equal(jobId, plan.JobId);
        Assert.Equal(22, plan.Planned);
        Assert.Equal(2, plan.Classes);
        Assert.Equal(4 + 3, plan.Batches); // a: 13 objects in 4 batches (the open one topped up), b: 9 in 3.
        var after = new Dictionary<string, long>();
        await foreach (ObjectRecord record in ledger.ReadObjectsAsync(jobId, CancellationToken.None))
        {
            after[record.Key] = record.ObjectId;
        }

        Assert.Equal(22, after.Count);
        Assert.All(before, pair => Assert.Equal(pair.Value, after[pair.Key]));
        Assert.Equal(JobState.Running, (await ledger.GetJobAsync(jobId, CancellationToken.None))!.State);
    }

    public void Dispose() => _dir.Dispose();

    private string WriteCorpus(IReadOnlyDictionary<string, int> classes)
    {
        string root = _dir["src-" + Guid.NewGuid().ToString("N")];
        foreach ((string label, int count) in classes)
        {
            Directory.CreateDirectory(Path.Combine(root, label));
            for (int i = 0; i < count; i++)
            {
                File.WriteAllBytes(Path.Combine(root, label, $"{i:D5}.wav"), [1, 2, 3]);
            }
        }

        return root;
    }

    private async Task<IWorkLedger> OpenLedgerAsync()
    {
        IWorkLedger ledger = WorkLedger.Open("sqlite:" + _dir[Guid.NewGuid().ToString("N") + ".db"]);
        await ledger.MigrateAsync(CancellationToken.None);
        return ledger;
    }

    private static JobDefinition Definition(string source) =>
        new(source, source + "-out", "dir", new ProtectionParameters(), "0011223344556677", 1, 3);
}
