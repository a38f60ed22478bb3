using System.Collections.Concurrent;
using System.Diagnostics;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Protection;

namespace PosCuda.Shared.Tests.Ledger;

/// <summary>The contract every <see cref="IWorkLedger"/> keeps, run against each implementation.</summary>
public abstract class WorkLedgerContractTests : IAsyncLifetime
{
    private static readonly TimeSpan s_longLease = TimeSpan.FromMinutes(5);
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(3));
    private IWorkLedger? _ledger;

    /// <summary>The ledger under test, migrated, fresh for every test.</summary>
    protected IWorkLedger Ledger => _ledger ?? throw new InvalidOperationException("The ledger is not open.");

    /// <summary>Cancels a test that hangs.</summary>
    protected CancellationToken Ct => _timeout.Token;

    public async Task InitializeAsync()
    {
        _ledger = await OpenLedgerAsync();
        await _ledger.MigrateAsync(Ct);
    }

    public async Task DisposeAsync()
    {
        if (_ledger is not null)
        {
            await _ledger.DisposeAsync();
        }

        await CleanupAsync();
        _timeout.Dispose();
    }

    [Fact]
    public async Task Job_PlannedClaimedAndCompleted_EndsCompletedWithEveryResult()
    {
        var definition = Definition();
        var jobId = await Ledger.CreateJobAsync(definition, Ct);
        var planned = Objects("yes", 5).Concat(Objects("no", 3)).ToList();
        await Ledger.AddObjectsAsync(jobId, planned, batchSize: 2, Ct);
        await Ledger.StartJobAsync(jobId, Ct);

        var leases = await ClaimAllAsync(jobId);
        Assert.Equal(5, leases.Count); // yes: 2+2+1, no: 2+1
        foreach (var lease in leases)
        {
            Assert.Equal(definition, lease.Job);
            Assert.Equal(1, lease.Attempt);
            await Ledger.CompleteBatchAsync(lease, Done(lease), Ct);
        }

        Assert.Equal([jobId], await Ledger.CompleteFinishedJobsAsync(Ct));
        var job = await Ledger.GetJobAsync(jobId, Ct);
        Assert.Equal(JobState.Completed, job!.State);
        Assert.NotNull(job.FinishedAt);

        var records = await ReadAllAsync(jobId);
        Assert.Equal(planned.Count, records.Count);
        Assert.All(records, r =>
        {
            Assert.Equal(ObjectOutcome.Done, r.Outcome);
            Assert.Equal(2, r.KeyVersion);
            Assert.Equal("out-" + r.Key, r.OutputETag);
            Assert.Equal("etag-" + r.Key, r.SourceETag);
            Assert.Equal(100, r.Bytes);
            Assert.NotNull(r.CompletedAt);
        });
    }

    [Fact]
    public async Task OpenPlannedBatches_WhilePlanning_ClaimableButJobCannotFinishUntilStarted()
    {
        var jobId = await Ledger.CreateJobAsync(Definition(), Ct);
        await Ledger.AddObjectsAsync(jobId, Objects("a", 2), batchSize: 2, Ct);
        Assert.Null(await Ledger.ClaimBatchAsync("w", TimeSpan.FromMinutes(1), jobId, Ct));

        await Ledger.OpenPlannedBatchesAsync(jobId, Ct);
        var first = await Ledger.ClaimBatchAsync("w", TimeSpan.FromMinutes(1), jobId, Ct);
        Assert.NotNull(first);
        await Ledger.CompleteBatchAsync(first!, Done(first!), Ct);

        Assert.Empty(await Ledger.FindFinishedJobsAsync(Ct));
        Assert.Equal(JobState.Planning, (await Ledger.GetJobAsync(jobId, Ct))!.State);
        await Ledger.AddObjectsAsync(jobId, Objects("a", 1, "more"), batchSize: 2, Ct);
        await Ledger.StartJobAsync(jobId, Ct);
        var second = await Ledger.ClaimBatchAsync("w", TimeSpan.FromMinutes(1), jobId, Ct);
        Assert.Single(second!.Objects);
        await Ledger.CompleteBatchAsync(second, Done(second), Ct);
        Assert.Equal([jobId], await Ledger.FindFinishedJobsAsync(Ct));
    }

    [Fact]
    public async Task FindFinishedJobsThenCompleteJob_OnlyWhenEveryBatchIsSettled_CompletesOnce()
    {
        var jobId = await Ledger.CreateJobAsync(Definition(), Ct);
        await Ledger.AddObjectsAsync(jobId, Objects("a", 2).Concat(Objects("b", 2)).ToList(), batchSize: 2, Ct);
        await Ledger.StartJobAsync(jobId, Ct);
        var first = await Ledger.ClaimBatchAsync("w", TimeSpan.FromMinutes(1), jobId, Ct);
        await Ledger.CompleteBatchAsync(first!, Done(first!), Ct);

        Assert.Empty(await Ledger.FindFinishedJobsAsync(Ct));
        Assert.False(await Ledger.CompleteJobAsync(jobId, Ct));

        var second = await Ledger.ClaimBatchAsync("w", TimeSpan.FromMinutes(1), jobId, Ct);
        await Ledger.CompleteBatchAsync(second!, Done(second!), Ct);

        Assert.Equal([jobId], await Ledger.FindFinishedJobsAsync(Ct));
        Assert.Equal(JobState.Running, (await Ledger.GetJobAsync(jobId, Ct))!.State);
        Assert.True(await Ledger.CompleteJobAsync(jobId, Ct));
        Assert.False(await Ledger.CompleteJobAsync(jobId, Ct));
        Assert.Empty(await Ledger.FindFinishedJobsAsync(Ct));
        var job = await Ledger.GetJobAsync(jobId, Ct);
        Assert.Equal(JobState.Completed, job!.State);
        Assert.NotNull(job.FinishedAt);
    }

    [Fact]
    public async Task AddObjects_ManyClasses_BatchesNeverMixClassesAndRespectBatchSize()
    {
        var jobId = await Ledger.CreateJobAsync(Definition(), Ct);
        var planned = Objects("a", 7).Concat(Objects("b", 1)).Concat(Objects("c", 9)).Concat(Objects("a", 3, "more")).ToList();
        await Ledger.AddObjectsAsync(jobId, Shuffle(planned), batchSize: 4, Ct);
        await Ledger.StartJobAsync(jobId, Ct);

        var labelOf = planned.ToDictionary(p => p.Key, p => p.Label);
        var leases = await ClaimAllAsync(jobId);
        Assert.Equal(3 + 1 + 3, leases.Count); // a: 10 -> 4+4+2, b: 1, c: 9 -> 4+4+1
        Assert.All(leases, lease =>
        {
            Assert.InRange(lease.Objects.Count, 1, 4);
            Assert.All(lease.Objects, o => Assert.Equal(lease.Label, labelOf[o.Key]));
        });
        Assert.Equal(planned.Count, leases.SelectMany(l => l.Objects).Select(o => o.Key).Distinct().Count());
    }

    [Fact]
    public async Task AddObjects_InChunks_TopsUpTheOpenBatchOfEachClass()
    {
        var jobId = await Ledger.CreateJobAsync(Definition(), Ct);
        await Ledger.AddObjectsAsync(jobId, Objects("a", 3, "first"), batchSize: 4, Ct);
        await Ledger.AddObjectsAsync(jobId, Objects("a", 3, "second").Concat(Objects("b", 2)).ToList(), batchSize: 4, Ct);
        await Ledger.StartJobAsync(jobId, Ct);

        var sizes = (await ClaimAllAsync(jobId)).Select(l => (l.Label, l.Objects.Count)).OrderBy(s => s.Label).ThenBy(s => s.Count).ToList();
        Assert.Equal([("a", 2), ("a", 4), ("b", 2)], sizes);
    }

    [Fact]
    public async Task AddObjects_KeyAlreadyPlanned_ThrowsAndAddsNothing()
    {
        var jobId = await Ledger.CreateJobAsync(Definition(), Ct);
        await Ledger.AddObjectsAsync(jobId, Objects("a", 2), batchSize: 4, Ct);

        var error = await Assert.ThrowsAsync<PosCudaException>(
            () => Ledger.AddObjectsAsync(jobId, Objects("b", 1).Concat(Objects("a", 1)).ToList(), batchSize: 4, Ct));

        Assert.False(error.IsTransient);
        Assert.Equal(["a/clip_0000.wav", "a/clip_0001.wav"], (await ReadAllAsync(jobId)).Select(r => r.Key));
        await Ledger.StartJobAsync(jobId, Ct);
        Assert.Equal(2, (await ClaimAllAsync(jobId)).Single().Objects.Count);
    }

    [Fact]
    public async Task AddObjects_KeyListedTwice_ThrowsArgumentException()
    {
        var jobId = await Ledger.CreateJobAsync(Definition(), Ct);

        await Assert.ThrowsAsync<ArgumentException>(() => Ledger.AddObjectsAsync(jobId, Objects("a", 1).Concat(Objects("a", 1)).ToList(), 4, Ct));
    }

    [Fact]
    public async Task RecordPlanningOutcomes_SkippedAndUnlabelled_ListedButOutsideEveryClass()
    {
        var jobId = await Ledger.CreateJobAsync(Definition(), Ct);
        await Ledger.AddObjectsAsync(jobId, Objects("a", 2), batchSize: 4, Ct);
        await Ledger.RecordPlanningOutcomesAsync(jobId,
        [
            new PlanningOutcome("README.txt", ObjectOutcome.Skipped, "not a .wav object"),
            new PlanningOutcome("b/odd.wav", ObjectOutcome.Failed, "no label"),
        ], Ct);
        await Ledger.StartJobAsync(jobId, Ct);

        var records = await ReadAllAsync(jobId);
        Assert.Equal(["README.txt", "a/clip_0000.wav", "a/clip_0001.wav", "b/odd.wav"], records.Select(r => r.Key));
        Assert.Equal(new[] { ObjectOutcome.Skipped, ObjectOutcome.Pending, ObjectOutcome.Pending, ObjectOutcome.Failed }, records.Select(r => r.Outcome));
        Assert.Equal("no label", records[3].Reason);
        Assert.Equal(string.Empty, records[3].Label);
        var status = await Ledger.GetJobStatusAsync(jobId, Ct);
        Assert.Equal(new ClassStatus("a", 2, 0, 0, 0, 1, 0, 0, 0, 0), Assert.Single(status!.Classes));

        var lease = (await ClaimAllAsync(jobId)).Single();
        await Ledger.CompleteBatchAsync(lease, Done(lease), Ct);
        Assert.Equal([jobId], await Ledger.CompleteFinishedJobsAsync(Ct));
        Assert.Equal(ObjectOutcome.Skipped, (await ReadAllAsync(jobId))[0].Outcome);
    }

    [Fact]
    public async Task RecordPlanningOutcomes_InvalidOutcomeOrStartedJob_Throws()
    {
        var jobId = await Ledger.CreateJobAsync(Definition(), Ct);
        await Assert.ThrowsAsync<ArgumentException>(
            () => Ledger.RecordPlanningOutcomesAsync(jobId, [new PlanningOutcome("x.wav", ObjectOutcome.Done, "?")], Ct));
        await Ledger.StartJobAsync(jobId, Ct);

        await Assert.ThrowsAsync<InvalidOperationException>(
            () => Ledger.RecordPlanningOutcomesAsync(jobId, [new PlanningOutcome("x.txt", ObjectOutcome.Skipped, "not a .wav object")], Ct));
        Assert.Empty(await ReadAllAsync(jobId));
    }

    [Fact]
    public async Task AddObjects_JobAlreadyStarted_Throws()
    {
        var jobId = await Ledger.CreateJobAsync(Definition(), Ct);
        await Ledger.StartJobAsync(jobId, Ct);

        await Assert.ThrowsAsync<InvalidOperationException>(() => Ledger.AddObjectsAsync(jobId, Objects("a", 1), 4, Ct));
    }

    [Fact]
    public async Task ClaimBatch_NothingPending_ReturnsNull()
    {
        Assert.Null(await Ledger.ClaimBatchAsync("w1", s_longLease, null, Ct));

        var jobId = await StartedJobAsync(Objects("a", 1), batchSize: 1);
        Assert.NotNull(await Ledger.ClaimBatchAsync("w1", s_longLease, jobId, Ct));
        Assert.Null(await Ledger.ClaimBatchAsync("w1", s_longLease, jobId, Ct));
        Assert.Null(await Ledger.ClaimBatchAsync("w1", s_longLease, null, Ct));
    }

    [Fact]
    public async Task ClaimBatch_JobStillPlanning_ReturnsNull()
    {
        var jobId = await Ledger.CreateJobAsync(Definition(), Ct);
        await Ledger.AddObjectsAsync(jobId, Objects("a", 4), 2, Ct);

        Assert.Null(await Ledger.ClaimBatchAsync("w1", s_longLease, null, Ct));
        Assert.Null(await Ledger.ClaimBatchAsync("w1", s_longLease, jobId, Ct));
        await Ledger.StartJobAsync(jobId, Ct);
        Assert.NotNull(await Ledger.ClaimBatchAsync("w1", s_longLease, jobId, Ct));
    }

    [Fact]
    public async Task ClaimBatch_WithJobId_ClaimsOnlyThatJob()
    {
        var first = await StartedJobAsync(Objects("a", 2), batchSize: 1);
        var second = await StartedJobAsync(Objects("b", 2), batchSize: 1, Definition(destination: "s3://other/out"));

        var lease = await Ledger.ClaimBatchAsync("w1", s_longLease, second, Ct);

        Assert.NotNull(lease);
        Assert.Equal(second, lease.JobId);
        Assert.Equal("b", lease.Label);
        Assert.Equal(first, (await Ledger.ClaimBatchAsync("w1", s_longLease, null, Ct))!.JobId);
    }

    [Fact]
    public async Task ClaimClassBatch_ClaimsOnlyThatClassOfThatJobThenNull()
    {
        var first = await StartedJobAsync(Objects("a", 2).Concat(Objects("b", 3)).ToList(), batchSize: 1);
        var second = await StartedJobAsync(Objects("b", 2), batchSize: 1, Definition(destination: "s3://other/out"));

        var leases = new List<BatchLease>();
        while (await Ledger.ClaimClassBatchAsync("shard", s_longLease, first, "b", Ct) is { } lease)
        {
            leases.Add(lease);
        }

        Assert.Equal(3, leases.Count);
        Assert.All(leases, l => Assert.Equal((first, "b", 1, 1), (l.JobId, l.Label, l.Attempt, l.Objects.Count)));
        Assert.Equal(3, leases.Select(l => l.BatchId).Distinct().Count());
        Assert.Null(await Ledger.ClaimClassBatchAsync("shard", s_longLease, first, "c", Ct));
        Assert.Equal("a", (await Ledger.ClaimBatchAsync("w", s_longLease, first, Ct))!.Label);
        Assert.Equal(second, (await Ledger.ClaimClassBatchAsync("shard", s_longLease, second, "b", Ct))!.JobId);
    }

    [Fact]
    public async Task ClaimClassBatch_MergeUpTo_MergesUntriedBatchesOfThatClassWhileTheyFit()
    {
        // Class b: batches of 2, 2, 2, 1 objects; class a and another job's b must stay as planned.
        var jobId = await StartedJobAsync(Objects("b", 7).Concat(Objects("a", 3)).ToList(), batchSize: 2);
        var other = await StartedJobAsync(Objects("b", 4), batchSize: 2, Definition(destination: "s3://other/out"));

        var first = await Ledger.ClaimClassBatchAsync("gpu", s_longLease, jobId, "b", mergeUpTo: 5, Ct);

        Assert.NotNull(first);
        Assert.Equal(["b/clip_0000.wav", "b/clip_0001.wav", "b/clip_0002.wav", "b/clip_0003.wav"], first.Objects.Select(o => o.Key)); // 2+2; a third batch would make 6
        Assert.Equal(1, first.Attempt);
        var b = (await Ledger.GetJobStatusAsync(jobId, Ct))!.Classes.Single(c => c.Label == "b");
        Assert.Equal((7, 1, 2), (b.Objects, b.LeasedBatches, b.PendingBatches)); // the merged batch's row is gone

        var second = await Ledger.ClaimClassBatchAsync("gpu", s_longLease, jobId, "b", mergeUpTo: 5, Ct);
        Assert.Equal(["b/clip_0004.wav", "b/clip_0005.wav", "b/clip_0006.wav"], second!.Objects.Select(o => o.Key));
        Assert.Null(await Ledger.ClaimClassBatchAsync("gpu", s_longLease, jobId, "b", mergeUpTo: 5, Ct));

        // The merged leases complete like any other and every object of the class is recorded once.
        await Ledger.CompleteBatchAsync(first, Done(first), Ct);
        await Ledger.CompleteBatchAsync(second, Done(second), Ct);
        var records = await ReadAllAsync(jobId);
        Assert.Equal(7, records.Count(r => r.Label == "b" && r.Outcome == ObjectOutcome.Done));
        Assert.Equal(2, (await Ledger.GetJobStatusAsync(jobId, Ct))!.Classes.Single(c => c.Label == "b").DoneBatches);

        Assert.Equal(2, (await Ledger.ClaimClassBatchAsync("cpu", s_longLease, jobId, "a", Ct))!.Objects.Count);
        Assert.Equal(2, (await Ledger.ClaimClassBatchAsync("cpu", s_longLease, other, "b", Ct))!.Objects.Count);
    }

    [Fact]
    public async Task ClaimClassBatch_MergeUpTo_StopsBeforeTheKeysOutgrowOneGrantMessage()
    {
        // Keys of 200 kB: batches of two hold 400 kB of keys; a third batch would take the lease past 1 MiB.
        var jobId = await StartedJobAsync(Objects("b", 8, prefix: new string('k', 200_000)), batchSize: 2);

        var lease = await Ledger.ClaimClassBatchAsync("gpu", s_longLease, jobId, "b", mergeUpTo: 100, Ct);

        Assert.Equal(4, lease!.Objects.Count);
        Assert.Equal(4, (await Ledger.ClaimClassBatchAsync("gpu", s_longLease, jobId, "b", mergeUpTo: 100, Ct))!.Objects.Count);
    }

    [Fact]
    public async Task ClaimClassBatch_MergeUpTo_NeverMergesOrGrowsARetriedBatch()
    {
        var jobId = await StartedJobAsync(Objects("b", 6), batchSize: 2);
        var failed = await Ledger.ClaimClassBatchAsync("w1", s_longLease, jobId, "b", Ct);
        await Ledger.ReleaseBatchAsync(failed!, "store unreachable", Ct);

        // The retried batch comes first and is not grown...
        var retry = await Ledger.ClaimClassBatchAsync("gpu", s_longLease, jobId, "b", mergeUpTo: 100, Ct);
        Assert.Equal((failed!.BatchId, 2, 2), (retry!.BatchId, retry.Attempt, retry.Objects.Count));
        await Ledger.ReleaseBatchAsync(retry, "store unreachable", Ct);

        // ...and an untried batch that merges takes the other untried one, never the retried one.
        var merged = await Ledger.ClaimClassBatchAsync("gpu", s_longLease, jobId, "b", mergeUpTo: 100, Ct);
        Assert.Equal(failed.BatchId, merged!.BatchId); // still the oldest pending
        var fresh = await Ledger.ClaimClassBatchAsync("gpu", s_longLease, jobId, "b", mergeUpTo: 100, Ct);
        Assert.Equal((1, 4), (fresh!.Attempt, fresh.Objects.Count));
        Assert.DoesNotContain(fresh.Objects, o => failed.Objects.Any(f => f.ObjectId == o.ObjectId));
    }

    [Fact]
    public async Task CompleteBatch_StaleTokenAfterRescue_ThrowsLeaseLostAndRecordsNothing()
    {
        var jobId = await StartedJobAsync(Objects("a", 3), batchSize: 3);
        var stale = await Ledger.ClaimBatchAsync("crashed", TimeSpan.FromMilliseconds(1), null, Ct);
        await RescueUntilAsync(r => r.Rescued == 1);
        var fresh = await Ledger.ClaimBatchAsync("w2", s_longLease, null, Ct);
        Assert.NotNull(fresh);
        Assert.Equal(2, fresh.Attempt);

        var lost = await Assert.ThrowsAsync<LeaseLostException>(() => Ledger.CompleteBatchAsync(stale!, Done(stale!), Ct));
        Assert.Equal(stale!.BatchId, lost.BatchId);
        Assert.All(await ReadAllAsync(jobId), r => Assert.Equal(ObjectOutcome.Pending, r.Outcome));

        await Ledger.CompleteBatchAsync(fresh, Done(fresh), Ct);
        Assert.All(await ReadAllAsync(jobId), r => Assert.Equal(ObjectOutcome.Done, r.Outcome));
        await Assert.ThrowsAsync<LeaseLostException>(() => Ledger.CompleteBatchAsync(fresh, Done(fresh), Ct));
    }

    [Fact]
    public async Task Heartbeat_StaleTokenAfterRescue_ThrowsLeaseLost()
    {
        await StartedJobAsync(Objects("a", 1), batchSize: 1);
        var stale = await Ledger.ClaimBatchAsync("crashed", TimeSpan.FromMilliseconds(1), null, Ct);
        await RescueUntilAsync(r => r.Rescued == 1);

        await Assert.ThrowsAsync<LeaseLostException>(() => Ledger.HeartbeatAsync(stale!, s_longLease, Ct));
        await Assert.ThrowsAsync<LeaseLostException>(() => Ledger.ReleaseBatchAsync(stale!, null, Ct));
    }

    [Fact]
    public async Task Heartbeat_ValidLease_ExtendsExpiry()
    {
        await StartedJobAsync(Objects("a", 1), batchSize: 1);
        var lease = await Ledger.ClaimBatchAsync("w1", TimeSpan.FromMinutes(1), null, Ct);

        var extended = await Ledger.HeartbeatAsync(lease!, TimeSpan.FromMinutes(30), Ct);

        Assert.True(extended >= lease!.ExpiresAt + TimeSpan.FromMinutes(28), $"{extended:O} vs {lease.ExpiresAt:O}");
        Assert.Equal(MaintenanceResult(0, 0), await Ledger.RescueExpiredLeasesAsync(Ct));
    }

    [Fact]
    public async Task ReleaseBatch_Voluntary_DoesNotCountAttempt()
    {
        var jobId = await StartedJobAsync(Objects("a", 2), batchSize: 2);
        var lease = await Ledger.ClaimBatchAsync("w1", s_longLease, null, Ct);

        await Ledger.ReleaseBatchAsync(lease!, null, Ct);

        var again = await Ledger.ClaimBatchAsync("w2", s_longLease, null, Ct);
        Assert.Equal(lease!.BatchId, again!.BatchId);
        Assert.Equal(1, again.Attempt);
        Assert.Equal(2, again.Objects.Count);
        Assert.Equal(0, (await Ledger.GetJobStatusAsync(jobId, Ct))!.Classes.Single().Retries);
    }

    [Fact]
    public async Task ReleaseBatch_WithError_CountsAttemptAndRetries()
    {
        var jobId = await StartedJobAsync(Objects("a", 2), batchSize: 2);
        var lease = await Ledger.ClaimBatchAsync("w1", s_longLease, null, Ct);

        await Ledger.ReleaseBatchAsync(lease!, "store unreachable", Ct);

        var again = await Ledger.ClaimBatchAsync("w2", s_longLease, null, Ct);
        Assert.Equal(2, again!.Attempt);
        Assert.NotEqual(lease!.LeaseToken, again.LeaseToken);
        var status = await Ledger.GetJobStatusAsync(jobId, Ct);
        Assert.Equal(1, status!.Classes.Single().Retries);
        Assert.Empty(status.DeadLetters);
    }

    [Fact]
    public async Task ReleaseBatch_WithErrorAtMaxAttempts_DeadLettersBatchAndObjects()
    {
        var jobId = await StartedJobAsync(Objects("a", 2), batchSize: 2, Definition(maxAttempts: 2));
        await Ledger.ReleaseBatchAsync((await Ledger.ClaimBatchAsync("w1", s_longLease, null, Ct))!, "boom 1", Ct);
        var last = await Ledger.ClaimBatchAsync("w1", s_longLease, null, Ct);

        await Ledger.ReleaseBatchAsync(last!, "boom 2", Ct);

        Assert.Null(await Ledger.ClaimBatchAsync("w1", s_longLease, null, Ct));
        var status = await Ledger.GetJobStatusAsync(jobId, Ct);
        var dead = Assert.Single(status!.DeadLetters);
        Assert.Equal(new DeadLetter(last!.BatchId, "a", 2, "boom 2"), dead);
        Assert.Equal(1, status.Classes.Single().DeadBatches);
        Assert.Equal(2, status.Classes.Single().Dead);
        Assert.All(await ReadAllAsync(jobId), r =>
        {
            Assert.Equal(ObjectOutcome.Dead, r.Outcome);
            Assert.Equal("batch dead-lettered after 2 attempts: boom 2", r.Reason);
        });
        Assert.Equal([jobId], await Ledger.CompleteFinishedJobsAsync(Ct));
    }

    [Fact]
    public async Task RescueExpiredLeases_CrashedTooOften_DeadLettersBatch()
    {
        var jobId = await StartedJobAsync(Objects("a", 2), batchSize: 2, Definition(maxAttempts: 2));
        Assert.NotNull(await Ledger.ClaimBatchAsync("crash-1", TimeSpan.FromMilliseconds(1), null, Ct));
        Assert.Equal(MaintenanceResult(1, 0), await RescueUntilAsync(r => r.Rescued + r.DeadLettered > 0));
        Assert.Equal(2, (await Ledger.ClaimBatchAsync("crash-2", TimeSpan.FromMilliseconds(1), null, Ct))!.Attempt);

        Assert.Equal(MaintenanceResult(0, 1), await RescueUntilAsync(r => r.Rescued + r.DeadLettered > 0));

        Assert.Null(await Ledger.ClaimBatchAsync("w", s_longLease, null, Ct));
        var dead = Assert.Single((await Ledger.GetJobStatusAsync(jobId, Ct))!.DeadLetters);
        Assert.Equal("lease expired 2 times (worker crashed?)", dead.LastError);
        Assert.All(await ReadAllAsync(jobId), r =>
        {
            Assert.Equal(ObjectOutcome.Dead, r.Outcome);
            Assert.Equal("batch dead-lettered after 2 attempts: lease expired 2 times (worker crashed?)", r.Reason);
        });
    }

    [Fact]
    public async Task ClaimBatch_SixteenConcurrentClaimers_ClaimEachBatchExactlyOnce()
    {
        var jobId = await StartedJobAsync(Objects("a", 120).Concat(Objects("b", 80)).ToList(), batchSize: 1);
        var claimed = new ConcurrentBag<long>();
        var tokens = new ConcurrentBag<Guid>();

        var claimers = Enumerable.Range(0, 16).Select(i => Task.Run(async () =>
        {
            while (await Ledger.ClaimBatchAsync($"w{i}", s_longLease, null, Ct) is { } lease)
            {
                claimed.Add(lease.BatchId);
                tokens.Add(lease.LeaseToken);
                Assert.Single(lease.Objects);
            }
        }));
        await Task.WhenAll(claimers);

        Assert.Equal(200, claimed.Count);
        Assert.Equal(200, claimed.Distinct().Count());
        Assert.Equal(200, tokens.Distinct().Count());
        Assert.Equal(200, (await Ledger.GetJobStatusAsync(jobId, Ct))!.Classes.Sum(c => c.LeasedBatches));
    }

    [Fact]
    public async Task CompleteFinishedJobs_UnfinishedBatch_WaitsThenCompletesOnce()
    {
        var planning = await Ledger.CreateJobAsync(Definition(source: "s3://planning/"), Ct);
        var jobId = await StartedJobAsync(Objects("a", 2), batchSize: 1);
        var first = await Ledger.ClaimBatchAsync("w", s_longLease, jobId, Ct);
        await Ledger.CompleteBatchAsync(first!, Done(first!), Ct);
        var second = await Ledger.ClaimBatchAsync("w", s_longLease, jobId, Ct);

        Assert.Empty(await Ledger.CompleteFinishedJobsAsync(Ct));
        await Ledger.CompleteBatchAsync(second!, Done(second!), Ct);
        Assert.Equal([jobId], await Ledger.CompleteFinishedJobsAsync(Ct));
        Assert.Empty(await Ledger.CompleteFinishedJobsAsync(Ct));
        Assert.Equal(JobState.Planning, (await Ledger.GetJobAsync(planning, Ct))!.State);
    }

    [Fact]
    public async Task GetJobStatus_MixedOutcomes_CountsPerClass()
    {
        var jobId = await StartedJobAsync(Objects("cat", 2).Concat(Objects("dog", 3)).ToList(), batchSize: 2);
        Assert.Null(await Ledger.GetJobStatusAsync(Guid.NewGuid(), Ct));

        var cat = await Ledger.ClaimBatchAsync("w", s_longLease, null, Ct);
        Assert.Equal("cat", cat!.Label);
        await Ledger.CompleteBatchAsync(cat,
        [
            Result(cat.Objects[0], ObjectOutcome.Done, bytes: 1000, clipped: 7),
            Result(cat.Objects[1], ObjectOutcome.Failed, bytes: 50, clipped: 0, reason: "not a WAV file"),
        ], Ct);
        var dog = await Ledger.ClaimBatchAsync("w", s_longLease, null, Ct);
        await Ledger.ReleaseBatchAsync(dog!, "timeout", Ct);
        Assert.NotNull(await Ledger.ClaimBatchAsync("w", s_longLease, null, Ct));

        var status = await Ledger.GetJobStatusAsync(jobId, Ct);

        Assert.Equal(jobId, status!.Job.JobId);
        Assert.Equal(JobState.Running, status.Job.State);
        Assert.Equal(new ClassStatus("cat", 2, 1, 1, 0, 0, 0, 1, 0, 0), status.Classes[0]);
        Assert.Equal(new ClassStatus("dog", 3, 0, 0, 0, 1, 1, 0, 0, 1), status.Classes[1]);
        Assert.Equal(2, status.ObjectsLastMinute);
        Assert.Equal(1000, status.BytesLastMinute);
        Assert.Equal(1000, status.BytesWritten);
        Assert.Equal(7, status.ClippedSamples);
        Assert.Empty(status.DeadLetters);
        var failed = (await ReadAllAsync(jobId)).Single(r => r.Outcome == ObjectOutcome.Failed);
        Assert.Equal("not a WAV file", failed.Reason);
    }

    [Fact]
    public async Task CompleteBatch_ResultForForeignObject_ThrowsAndRecordsNothing()
    {
        var jobId = await StartedJobAsync(Objects("a", 2), batchSize: 1);
        var lease = await Ledger.ClaimBatchAsync("w", s_longLease, null, Ct);
        var other = await Ledger.ClaimBatchAsync("w", s_longLease, null, Ct);

        await Assert.ThrowsAsync<ArgumentException>(() => Ledger.CompleteBatchAsync(lease!, Done(other!), Ct));

        Assert.All(await ReadAllAsync(jobId), r => Assert.Equal(ObjectOutcome.Pending, r.Outcome));
        await Ledger.CompleteBatchAsync(lease!, Done(lease!), Ct);
    }

    [Fact]
    public async Task CompleteBatch_MissingResult_MarksThatObjectFailed()
    {
        var jobId = await StartedJobAsync(Objects("a", 2), batchSize: 2);
        var lease = await Ledger.ClaimBatchAsync("w", s_longLease, null, Ct);

        await Ledger.CompleteBatchAsync(lease!, [Result(lease!.Objects[0], ObjectOutcome.Done, 10, 0)], Ct);

        var records = await ReadAllAsync(jobId);
        Assert.Equal([ObjectOutcome.Done, ObjectOutcome.Failed], records.Select(r => r.Outcome));
        Assert.Contains("without a result", records[1].Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReadObjects_ShuffledKeys_ReturnsOrdinalKeyOrder()
    {
        string[] keys = ["b/2.wav", "a/10.wav", "B/1.wav", "a/9.wav", "a/1.wav", "c/z.wav", "c/Z.wav", "_x.wav"];
        var jobId = await Ledger.CreateJobAsync(Definition(), Ct);
        await Ledger.AddObjectsAsync(jobId, keys.Select(k => new PlannedObject(k, k[..1], 1, null)).ToList(), 3, Ct);

        var read = (await ReadAllAsync(jobId)).Select(r => r.Key).ToList();

        Assert.Equal(keys.Order(StringComparer.Ordinal), read);
    }

    [Fact]
    public async Task ReadObjects_Cancelled_ThrowsOperationCanceled()
    {
        var jobId = await StartedJobAsync(Objects("a", 10), batchSize: 5);
        using var cts = new CancellationTokenSource();
        var read = 0;

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var record in Ledger.ReadObjectsAsync(jobId, Ct).WithCancellation(cts.Token))
            {
                read++;
                await cts.CancelAsync();
            }
        });
        Assert.Equal(1, read);
    }

    [Fact]
    public async Task ResetLeases_LeasedBatches_BackToPendingWithoutCountingAttempt()
    {
        var jobId = await StartedJobAsync(Objects("a", 3), batchSize: 1);
        var other = await StartedJobAsync(Objects("z", 1), batchSize: 1, Definition(destination: "s3://other/"));
        var old = await Ledger.ClaimBatchAsync("w", s_longLease, jobId, Ct);
        await Ledger.ClaimBatchAsync("w", s_longLease, jobId, Ct);
        var otherLease = await Ledger.ClaimBatchAsync("w", s_longLease, other, Ct);

        Assert.Equal(2, await Ledger.ResetLeasesAsync(jobId, Ct));

        var leases = await ClaimAllAsync(jobId);
        Assert.Equal(3, leases.Count);
        Assert.All(leases, l => Assert.Equal(1, l.Attempt));
        await Assert.ThrowsAsync<LeaseLostException>(() => Ledger.CompleteBatchAsync(old!, Done(old!), Ct));
        await Ledger.HeartbeatAsync(otherLease!, s_longLease, Ct);
    }

    [Fact]
    public async Task FindJob_SameDefinition_ReturnsNewestUnfinishedJob()
    {
        var definition = Definition();
        Assert.Null(await Ledger.FindJobAsync(definition, Ct));
        var older = await Ledger.CreateJobAsync(definition, Ct);
        var newer = await Ledger.CreateJobAsync(definition with { TraceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", MaxAttempts = 9 }, Ct);
        await Ledger.CreateJobAsync(Definition(destination: "s3://elsewhere/"), Ct);

        Assert.Equal(newer, await Ledger.FindJobAsync(definition, Ct));
        Assert.Null(await Ledger.FindJobAsync(definition with { KeyVersion = 3 }, Ct));
        Assert.Null(await Ledger.FindJobAsync(definition with { Parameters = new ProtectionParameters(blur: 0.02) }, Ct));

        await Ledger.StartJobAsync(newer, Ct);
        Assert.Equal([newer], await Ledger.CompleteFinishedJobsAsync(Ct));
        Assert.Equal(older, await Ledger.FindJobAsync(definition, Ct));
    }

    [Fact]
    public async Task FindJob_SpecV2_MatchesItsCodeParametersAndRoundTripsThem()
    {
        var code = new SpectralCodeParameters(slots: 12, weight: 5, minFrequency: 50.5, maxFrequency: 7000, targetSnr: 18.25, depth: 0.9);
        var definition = Definition() with { Parameters = new ProtectionParameters(spec: PoscudaV2.SpecName, code: code) };

        Guid job = await Ledger.CreateJobAsync(definition, Ct);

        Assert.Equal(job, await Ledger.FindJobAsync(definition, Ct));
        Assert.Equal(definition.Parameters, (await Ledger.GetJobAsync(job, Ct))!.Definition.Parameters);
        Assert.Null(await Ledger.FindJobAsync(
            definition with { Parameters = new ProtectionParameters(spec: PoscudaV2.SpecName, code: new SpectralCodeParameters(slots: 12, weight: 6)) }, Ct));
        Assert.Null(await Ledger.FindJobAsync(definition with { Parameters = new ProtectionParameters() }, Ct));
    }

    [Fact]
    public async Task GetJob_AfterCreate_RoundTripsDefinitionAndListsNewestFirst()
    {
        var definition = new JobDefinition(
            "/data/in", "s3://bucket/out", "regex:^(?<label>\\d+)_", new ProtectionParameters(40, 100, 0.05, 2000, PatchMode.Whole),
            "9f2c4e1a7b3d5c60", 3, 7, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
        var first = await Ledger.CreateJobAsync(definition, Ct);
        var second = await Ledger.CreateJobAsync(Definition(), Ct);

        var job = await Ledger.GetJobAsync(first, Ct);

        Assert.Equal(definition, job!.Definition);
        Assert.Equal(JobState.Planning, job.State);
        Assert.Null(job.FinishedAt);
        Assert.Null(await Ledger.GetJobAsync(Guid.NewGuid(), Ct));
        Assert.Equal([second, first], (await Ledger.ListJobsAsync(Ct)).Select(j => j.JobId));
    }

    [Fact]
    public async Task MigrateAsync_Again_IsIdempotent()
    {
        var jobId = await Ledger.CreateJobAsync(Definition(), Ct);

        await Ledger.MigrateAsync(Ct);

        Assert.NotNull(await Ledger.GetJobAsync(jobId, Ct));
    }

    [Fact]
    public async Task AddObjects_HundredThousandObjects_AllPlannedInBatchesPerClass()
    {
        var planned = Enumerable.Range(0, 100_000)
            .Select(i => new PlannedObject($"{i % 10}/clip_{i:D6}.wav", (i % 10).ToString(System.Globalization.CultureInfo.InvariantCulture), 16_000, $"\"{i:x8}\""))
            .ToList();
        var jobId = await Ledger.CreateJobAsync(Definition(), Ct);

        await Ledger.AddObjectsAsync(jobId, planned, batchSize: 256, Ct);
        await Ledger.StartJobAsync(jobId, Ct);

        var status = await Ledger.GetJobStatusAsync(jobId, Ct);
        Assert.Equal(10, status!.Classes.Count);
        Assert.All(status.Classes, c =>
        {
            Assert.Equal(10_000, c.Objects);
            Assert.Equal(40, c.PendingBatches); // ceil(10000 / 256)
        });
    }

    /// <summary>Opens a fresh, empty ledger (not yet migrated).</summary>
    protected abstract Task<IWorkLedger> OpenLedgerAsync();

    /// <summary>Removes what <see cref="OpenLedgerAsync"/> created.</summary>
    protected virtual Task CleanupAsync() => Task.CompletedTask;

    protected static JobDefinition Definition(string source = "s3://in/fsdd/", string destination = "s3://out/fsdd/", int maxAttempts = 5) =>
        new(source, destination, "dir", new ProtectionParameters(), "9f2c4e1a7b3d5c60", 2, maxAttempts);

    protected static List<PlannedObject> Objects(string label, int count, string prefix = "clip") =>
        Enumerable.Range(0, count).Select(i => new PlannedObject($"{label}/{prefix}_{i:D4}.wav", label, 100 + i, $"etag-{label}/{prefix}_{i:D4}.wav")).ToList();

    protected async Task<Guid> StartedJobAsync(IReadOnlyList<PlannedObject> objects, int batchSize, JobDefinition? definition = null)
    {
        var jobId = await Ledger.CreateJobAsync(definition ?? Definition(), Ct);
        await Ledger.AddObjectsAsync(jobId, objects, batchSize, Ct);
        await Ledger.StartJobAsync(jobId, Ct);
        return jobId;
    }

    private static MaintenanceResult MaintenanceResult(int rescued, int deadLettered) => new(rescued, deadLettered);

    private static ObjectResult Result(BatchObject item, ObjectOutcome outcome, long bytes, long clipped, string? reason = null) =>
        new(item.ObjectId, outcome, reason, 2, item.SourceETag, outcome == ObjectOutcome.Done ? "out-" + item.Key : null, bytes, clipped);

    private static List<ObjectResult> Done(BatchLease lease) =>
        lease.Objects.Select(o => new ObjectResult(o.ObjectId, ObjectOutcome.Done, null, 2, o.SourceETag, "out-" + o.Key, 100, 0)).ToList();

    private static List<PlannedObject> Shuffle(List<PlannedObject> items)
    {
        var copy = items.ToList();
        new Random(42).Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(copy));
        return copy;
    }

    private async Task<List<BatchLease>> ClaimAllAsync(Guid jobId)
    {
        var leases = new List<BatchLease>();
        while (await Ledger.ClaimBatchAsync("worker", s_longLease, jobId, Ct) is { } lease)
        {
            leases.Add(lease);
        }

        return leases;
    }

    private async Task<List<ObjectRecord>> ReadAllAsync(Guid jobId)
    {
        var records = new List<ObjectRecord>();
        await foreach (var record in Ledger.ReadObjectsAsync(jobId, Ct))
        {
            records.Add(record);
        }

        return records;
    }

    private async Task<MaintenanceResult> RescueUntilAsync(Func<MaintenanceResult, bool> done)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var result = await Ledger.RescueExpiredLeasesAsync(Ct);
            if (done(result))
            {
                return result;
            }

            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), "No expired lease was rescued in time.");
            await Task.Delay(10, Ct);
        }
    }
}
