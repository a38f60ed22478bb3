using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Telemetry;

namespace PosCuda.Shared.Tests.Telemetry;

[Collection(TelemetryCollection.Name)]
public sealed class PipelineTelemetryTests
{
    [Fact]
    public void WithTraceParent_PlanningSpan_StoresW3CTraceParent()
    {
        using var spans = new ActivityRecorder();
        JobDefinition planned;
        string traceId;
        string spanId;
        using (Activity? planning = PipelineTelemetry.StartPlanning(TelemetryData.Definition()))
        {
            Assert.NotNull(planning);
            planned = PipelineTelemetry.WithTraceParent(TelemetryData.Definition(), planning);
            traceId = planning.TraceId.ToHexString();
            spanId = planning.SpanId.ToHexString();
        }

        Assert.Equal($"00-{traceId}-{spanId}-01", planned.TraceParent);
        ActivityContext parsed = PipelineTelemetry.ParseTraceParent(planned.TraceParent);
        Assert.Equal(traceId, parsed.TraceId.ToHexString());
        Assert.Equal(spanId, parsed.SpanId.ToHexString());
        Assert.True(parsed.IsRemote);
    }

    [Fact]
    public void WithTraceParent_NoSpan_ReturnsDefinitionUnchanged()
    {
        JobDefinition definition = TelemetryData.Definition();

        Assert.Same(definition, PipelineTelemetry.WithTraceParent(definition, null));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("not-a-traceparent")]
    [InlineData("00-00000000000000000000000000000000-0000000000000000-01")]
    public void ParseTraceParent_MissingOrMalformed_ReturnsDefault(string? traceParent)
        => Assert.Equal(default, PipelineTelemetry.ParseTraceParent(traceParent));

    [Fact]
    public void StartPlanning_RecordPlan_TagsJobAndCounts()
    {
        using var spans = new ActivityRecorder();
        Guid jobId = Guid.NewGuid();
        using (Activity? planning = PipelineTelemetry.StartPlanning(TelemetryData.Definition()))
        {
            PipelineTelemetry.SetJob(planning, jobId);
            PipelineTelemetry.RecordListed(planning, 12);
            PipelineTelemetry.RecordPlan(planning, planned: 10, classes: 2, batches: 3, skipped: 1, failed: 1);
        }

        Activity span = Assert.Single(spans.Stopped, a => a.OperationName == SpanNames.Plan && Equals(a.GetTagItem(PipelineTags.JobId), jobId.ToString("D")));
        Assert.Equal(10L, span.GetTagItem(PipelineTags.PlannedObjects));
        Assert.Equal(2, span.GetTagItem(PipelineTags.PlannedClasses));
        Assert.Equal(3L, span.GetTagItem(PipelineTags.PlannedBatches));
        Assert.Equal(TelemetryData.KeyId, span.GetTagItem(PipelineTags.KeyId));
        Assert.Equal("poscuda-v1", span.GetTagItem(PipelineTags.Spec));
        Assert.Contains(span.Events, e => e.Name == SpanNames.ListedEvent);
    }

    [Fact]
    public void BatchTelemetry_Start_JoinsJobTraceAndNestsObjects()
    {
        using var spans = new ActivityRecorder();
        JobDefinition definition;
        Activity planning;
        using (planning = PipelineTelemetry.StartPlanning(TelemetryData.Definition())!)
        {
            definition = PipelineTelemetry.WithTraceParent(TelemetryData.Definition(), planning);
        }

        BatchLease lease = TelemetryData.Lease(definition);
        DateTimeOffset claimedSince = DateTimeOffset.UtcNow.AddMilliseconds(-50);
        using (BatchTelemetry batch = BatchTelemetry.Start(lease, "worker-1", claimedSince))
        {
            using (ObjectTelemetry item = ObjectTelemetry.Start(lease.Objects[0]))
            {
                item.Complete(TelemetryData.Done(1, 1000));
            }

            batch.Completed([TelemetryData.Done(1, 1000)]);
            using Activity? completing = batch.StartCompletion();
        }

        Activity batchSpan = spans.Single(SpanNames.Batch);
        Assert.Equal(planning.TraceId, batchSpan.TraceId);
        Assert.Equal(planning.SpanId, batchSpan.ParentSpanId);
        Assert.Equal(ActivityKind.Consumer, batchSpan.Kind);
        Assert.Equal(claimedSince.UtcDateTime, batchSpan.StartTimeUtc);
        Assert.Equal(lease.JobId.ToString("D"), batchSpan.GetTagItem(PipelineTags.JobId));
        Assert.Equal(42L, batchSpan.GetTagItem(PipelineTags.BatchId));
        Assert.Equal("dog", batchSpan.GetTagItem(PipelineTags.Class));
        Assert.Equal("worker-1", batchSpan.GetTagItem(PipelineTags.WorkerId));
        Assert.Equal(1, batchSpan.GetTagItem(PipelineTags.KeyVersion));
        Assert.Equal("completed", batchSpan.GetTagItem(PipelineTags.Outcome));
        Assert.Contains(batchSpan.Events, e => e.Name == SpanNames.ClaimedEvent);

        Activity objectSpan = spans.Single(SpanNames.Object);
        Assert.Equal(batchSpan.SpanId, objectSpan.ParentSpanId);
        Assert.Equal("dog/clip-1.wav", objectSpan.GetTagItem(PipelineTags.ObjectKey));
        Assert.Equal(batchSpan.SpanId, spans.Single(SpanNames.BatchComplete).ParentSpanId);
    }

    [Fact]
    public void BatchTelemetry_NoTraceParent_StartsItsOwnTrace()
    {
        using var spans = new ActivityRecorder();

        using (BatchTelemetry.Start(TelemetryData.Lease(TelemetryData.Definition()), "worker-1", DateTimeOffset.UtcNow))
        {
        }

        Activity batchSpan = spans.Single(SpanNames.Batch);
        Assert.Null(batchSpan.Parent);
        Assert.Equal(default, batchSpan.ParentSpanId);
    }

    [Theory]
    [InlineData(null, "released")]
    [InlineData("store down", "failed")]
    public void BatchTelemetry_Released_RecordsDurationByOutcome(string? error, string outcome)
    {
        using var spans = new ActivityRecorder();
        using var batchDuration = new MetricCollector<double>(PipelineTelemetry.BatchDuration);

        using (BatchTelemetry batch = BatchTelemetry.Start(TelemetryData.Lease(TelemetryData.Definition()), "w", DateTimeOffset.UtcNow.AddSeconds(-2)))
        {
            batch.Released(error);
        }

        CollectedMeasurement<double> duration = Assert.Single(batchDuration.GetMeasurementSnapshot());
        Assert.Equal(outcome, duration.Tags[PipelineTags.Outcome]);
        Assert.InRange(duration.Value, 1.9, 60);
        Activity span = spans.Single(SpanNames.Batch);
        Assert.Equal(outcome, span.GetTagItem(PipelineTags.Outcome));
        Assert.Equal(error is null ? ActivityStatusCode.Unset : ActivityStatusCode.Error, span.Status);
    }

    [Fact]
    public void ObjectTelemetry_CompleteDone_RecordsCountersHistogramAndTags()
    {
        using var spans = new ActivityRecorder();
        using var processed = new MetricCollector<long>(PipelineTelemetry.ObjectsProcessed);
        using var read = new MetricCollector<long>(PipelineTelemetry.BytesRead);
        using var written = new MetricCollector<long>(PipelineTelemetry.BytesWritten);
        using var clipped = new MetricCollector<long>(PipelineTelemetry.ClippedSamples);
        using var objectDuration = new MetricCollector<double>(PipelineTelemetry.ObjectDuration);

        using (ObjectTelemetry item = ObjectTelemetry.Start(new BatchObject(1, "cat/a.wav", 4096, null)))
        {
            item.Complete(TelemetryData.Done(1, 4096, clipped: 3));
        }

        Assert.Equal(1, Sum(processed, "done"));
        Assert.Equal(4096, Sum(read));
        Assert.Equal(4096, Sum(written));
        Assert.Equal(3, Sum(clipped));
        CollectedMeasurement<double> duration = Assert.Single(objectDuration.GetMeasurementSnapshot());
        Assert.Equal("done", duration.Tags[PipelineTags.Outcome]);
        Activity span = spans.Single(SpanNames.Object);
        Assert.Equal("done", span.GetTagItem(PipelineTags.Outcome));
        Assert.Equal(4096L, span.GetTagItem(PipelineTags.BytesWritten));
        Assert.Equal(ActivityStatusCode.Unset, span.Status);
    }

    [Fact]
    public void ObjectTelemetry_CompleteFailed_CountsFailureWritesNothingMarksError()
    {
        using var spans = new ActivityRecorder();
        using var processed = new MetricCollector<long>(PipelineTelemetry.ObjectsProcessed);
        using var read = new MetricCollector<long>(PipelineTelemetry.BytesRead);
        using var written = new MetricCollector<long>(PipelineTelemetry.BytesWritten);

        using (ObjectTelemetry item = ObjectTelemetry.Start(new BatchObject(1, "cat/bad.wav", 10, null)))
        {
            item.Complete(TelemetryData.Failed(1, 10, "not a RIFF/WAVE file"));
        }

        Assert.Equal(1, Sum(processed, "failed"));
        Assert.Equal(0, Sum(processed, "done"));
        Assert.Equal(10, Sum(read));
        Assert.Equal(0, Sum(written));
        Activity span = spans.Single(SpanNames.Object);
        Assert.Equal(ActivityStatusCode.Error, span.Status);
        Assert.Equal("not a RIFF/WAVE file", span.GetTagItem(PipelineTags.FailureReason));
        Assert.Equal("invalid_object", span.GetTagItem(PipelineTags.ErrorType));
    }

    [Fact]
    public void ObjectTelemetry_FailWithError_CountsErrorAndRecordsException()
    {
        using var spans = new ActivityRecorder();
        using var processed = new MetricCollector<long>(PipelineTelemetry.ObjectsProcessed);

        using (ObjectTelemetry item = ObjectTelemetry.Start(new BatchObject(1, "cat/a.wav", 10, null)))
        {
            item.Fail(new PosCudaException("The destination refused the write.", isTransient: true));
        }

        Assert.Equal(1, Sum(processed, "error"));
        Activity span = spans.Single(SpanNames.Object);
        Assert.Equal(ActivityStatusCode.Error, span.Status);
        Assert.Equal(typeof(PosCudaException).FullName, span.GetTagItem(PipelineTags.ErrorType));
        Assert.Contains(span.Events, e => e.Name == "exception");
    }

    [Fact]
    public void ObjectTelemetry_FailWithCancellation_CountsNothing()
    {
        using var spans = new ActivityRecorder();
        using var processed = new MetricCollector<long>(PipelineTelemetry.ObjectsProcessed);

        using (ObjectTelemetry item = ObjectTelemetry.Start(new BatchObject(1, "cat/a.wav", 10, null)))
        {
            item.Fail(new OperationCanceledException());
        }

        Assert.Empty(processed.GetMeasurementSnapshot());
        Activity span = spans.Single(SpanNames.Object);
        Assert.Equal("cancelled", span.GetTagItem(PipelineTags.Outcome));
        Assert.Equal(ActivityStatusCode.Unset, span.Status);
    }

    [Fact]
    public void StartStage_Dispose_RecordsStageDurationAndEventOnObjectSpan()
    {
        using var spans = new ActivityRecorder();
        using var stageDuration = new MetricCollector<double>(PipelineTelemetry.StageDuration);

        using (ObjectTelemetry.Start(new BatchObject(1, "cat/a.wav", 10, null)))
        {
            using (PipelineTelemetry.StartStage(SpanNames.StageGet))
            {
            }

            using (PipelineTelemetry.StartStage(SpanNames.StagePut))
            {
            }
        }

        Assert.Equal(["get", "put"], stageDuration.GetMeasurementSnapshot().Select(m => (string)m.Tags[PipelineTags.Stage]!));
        Assert.Equal(["poscuda.object.get", "poscuda.object.put"], spans.Single(SpanNames.Object).Events.Select(e => e.Name));
    }

    [Fact]
    public void StartStage_DefaultTimer_DisposeDoesNothing()
    {
        using var stageDuration = new MetricCollector<double>(PipelineTelemetry.StageDuration);

        default(StageTimer).Dispose();

        Assert.Empty(stageDuration.GetMeasurementSnapshot());
    }

    [Fact]
    public void RecordMaintenance_NothingDone_NoSpanNoCount()
    {
        using var spans = new ActivityRecorder();
        using var rescued = new MetricCollector<long>(PipelineTelemetry.LeasesRescued);
        using var deadLettered = new MetricCollector<long>(PipelineTelemetry.BatchesDeadLettered);

        PipelineTelemetry.RecordMaintenance(new MaintenanceResult(0, 0), DateTimeOffset.UtcNow);

        Assert.Empty(spans.Stopped);
        Assert.Empty(rescued.GetMeasurementSnapshot());
        Assert.Empty(deadLettered.GetMeasurementSnapshot());
    }

    [Fact]
    public void RecordMaintenance_RescuesAndDeadLetters_CountsAndSpansThePass()
    {
        using var spans = new ActivityRecorder();
        using var rescued = new MetricCollector<long>(PipelineTelemetry.LeasesRescued);
        using var deadLettered = new MetricCollector<long>(PipelineTelemetry.BatchesDeadLettered);
        DateTimeOffset started = DateTimeOffset.UtcNow.AddMilliseconds(-20);

        PipelineTelemetry.RecordMaintenance(new MaintenanceResult(3, 1), started);

        Assert.Equal(3, Sum(rescued));
        Assert.Equal(1, Sum(deadLettered));
        Activity span = spans.Single(SpanNames.Rescue);
        Assert.Equal(started.UtcDateTime, span.StartTimeUtc);
        Assert.Equal(3, span.GetTagItem(PipelineTags.LeasesRescued));
        Assert.Equal(1, span.GetTagItem(PipelineTags.BatchesDeadLettered));
    }

    [Fact]
    public void Instruments_NamesAndUnits_MatchTheDocumentedContract()
    {
        var expected = new Dictionary<string, string>
        {
            ["poscuda.objects.processed"] = "{object}",
            ["poscuda.bytes.read"] = "By",
            ["poscuda.bytes.written"] = "By",
            ["poscuda.samples.clipped"] = "{sample}",
            ["poscuda.object.duration"] = "s",
            ["poscuda.stage.duration"] = "s",
            ["poscuda.batch.duration"] = "s",
            ["poscuda.store.retries"] = "{request}",
            ["poscuda.leases.rescued"] = "{lease}",
            ["poscuda.batches.dead_lettered"] = "{batch}",
            ["poscuda.batches.pending"] = "{batch}",
            ["poscuda.batches.leased"] = "{batch}",
            ["poscuda.batches.dead"] = "{batch}",
            ["poscuda.objects.pending"] = "{object}",
        };
        Instrument[] instruments =
        [
            PipelineTelemetry.ObjectsProcessed, PipelineTelemetry.BytesRead, PipelineTelemetry.BytesWritten, PipelineTelemetry.ClippedSamples,
            PipelineTelemetry.ObjectDuration, PipelineTelemetry.StageDuration, PipelineTelemetry.BatchDuration, PipelineTelemetry.StoreRetries,
            PipelineTelemetry.LeasesRescued, PipelineTelemetry.BatchesDeadLettered, PipelineTelemetry.PendingBatches, PipelineTelemetry.LeasedBatches,
            PipelineTelemetry.DeadBatches, PipelineTelemetry.PendingObjects,
        ];

        Assert.Equal(expected, instruments.ToDictionary(i => i.Name, i => i.Unit!));
        Assert.All(instruments, i => Assert.Same(PipelineTelemetry.Meter, i.Meter));
        Assert.Equal(PipelineTelemetry.Name, PipelineTelemetry.ActivitySource.Name);
    }

    [Fact]
    public void ObjectDuration_Advice_ExplicitBucketsFromOneMillisecondToTenSeconds()
    {
        IReadOnlyList<double>? buckets = PipelineTelemetry.ObjectDuration.Advice?.HistogramBucketBoundaries;

        Assert.NotNull(buckets);
        Assert.Equal(0.001, buckets[0]);
        Assert.Equal(10, buckets[^1]);
        Assert.Equal(buckets.Order(), buckets);
    }

    /// <summary>The sum of a counter's measurements, only those with outcome <paramref name="outcome"/> when given.</summary>
    private static long Sum(MetricCollector<long> collector, string? outcome = null)
        => collector.GetMeasurementSnapshot()
            .Where(m => outcome is null || m.ContainsTags(new KeyValuePair<string, object?>(PipelineTags.Outcome, outcome)))
            .Sum(m => m.Value);
}
