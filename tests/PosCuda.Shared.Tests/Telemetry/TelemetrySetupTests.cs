using System.Diagnostics;
using System.Security.Cryptography;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Protection;
using PosCuda.Shared.Telemetry;
using PosCuda.Testing.Telemetry;

namespace PosCuda.Shared.Tests.Telemetry;

[Collection(TelemetryCollection.Name)]
public sealed class TelemetrySetupTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(20);

    [Fact]
    public void Start_NoEnvironment_BuildsNoProviderAndDisposesQuietly()
    {
        using EnvironmentScope env = EnvironmentScope.Otel();

        IDisposable telemetry = TelemetrySetup.Start(TelemetrySetup.WorkerRole);

        Assert.False(PipelineTelemetry.ActivitySource.HasListeners());
        Assert.False(PipelineTelemetry.ObjectsProcessed.Enabled);
        Assert.Null(PipelineTelemetry.StartPlanning(TelemetryData.Definition()));
        telemetry.Dispose();
        telemetry.Dispose();
    }

    [Fact]
    public void Start_SdkDisabled_BuildsNoProviderEvenWithEndpoint()
    {
        using EnvironmentScope env = EnvironmentScope.Otel(new Dictionary<string, string?>
        {
            ["OTEL_SDK_DISABLED"] = "true",
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:9",
        });

        using IDisposable telemetry = TelemetrySetup.Start(TelemetrySetup.CoordinatorRole);

        Assert.False(PipelineTelemetry.ActivitySource.HasListeners());
    }

    [Theory]
    [InlineData("")]
    [InlineData(" ")]
    public void Start_BlankRole_Throws(string role)
        => Assert.ThrowsAny<ArgumentException>(() => TelemetrySetup.Start(role));

    [Fact]
    public async Task Start_WithReceiver_SpansArriveWithNamesParentsAndResource()
    {
        using EnvironmentScope env = EnvironmentScope.Otel();
        await using OtlpReceiver receiver = OtlpReceiver.Start();
        string planningSpanId;
        Guid jobId = Guid.NewGuid();
        using (TelemetrySetup.Start(TelemetrySetup.WorkerRole, receiver.ConfigureExporter))
        {
            JobDefinition definition;
            using (Activity? planning = PipelineTelemetry.StartPlanning(TelemetryData.Definition()))
            {
                definition = PipelineTelemetry.WithTraceParent(TelemetryData.Definition(), planning);
                planningSpanId = planning!.SpanId.ToHexString();
            }

            RunBatch(TelemetryData.Lease(definition, objects: 2, jobId: jobId));
        }

        await receiver.WaitUntilAsync(r => r.Spans.Count >= 5, s_timeout);
        IReadOnlyList<OtlpSpan> spans = receiver.Spans;
        OtlpSpan plan = Assert.Single(spans, s => s.Name == SpanNames.Plan);
        OtlpSpan batch = Assert.Single(spans, s => s.Name == SpanNames.Batch);
        OtlpSpan[] objects = [.. spans.Where(s => s.Name == SpanNames.Object)];
        OtlpSpan complete = Assert.Single(spans, s => s.Name == SpanNames.BatchComplete);
        Assert.Null(plan.ParentSpanId);
        Assert.Equal(planningSpanId, plan.SpanId);
        Assert.Equal(plan.SpanId, batch.ParentSpanId);
        Assert.Equal(2, objects.Length);
        Assert.All(objects, o => Assert.Equal(batch.SpanId, o.ParentSpanId));
        Assert.Equal(batch.SpanId, complete.ParentSpanId);
        Assert.All(spans, s => Assert.Equal(plan.TraceId, s.TraceId));
        Assert.Equal(5, batch.Kind); // CONSUMER
        Assert.Equal(jobId.ToString("D"), batch.Attributes[PipelineTags.JobId]);
        Assert.Equal(42L, batch.Attributes[PipelineTags.BatchId]);
        Assert.Equal("completed", batch.Attributes[PipelineTags.Outcome]);
        Assert.Equal(["poscuda.object.get", "poscuda.object.protect", "poscuda.object.put"], objects[0].Events);
        Assert.Equal(PipelineTelemetry.Name, batch.Scope);
        Assert.Equal("poscuda-worker", batch.Resource["service.name"]);
        Assert.Equal("worker", batch.Resource[PipelineTags.Role]);
        Assert.Equal(Environment.MachineName, batch.Resource["host.name"]);
        Assert.Equal((long)Environment.ProcessId, batch.Resource["process.pid"]);
        Assert.True(batch.Resource.ContainsKey("service.instance.id"));
        Assert.All(receiver.Requests, r => Assert.Equal("application/x-protobuf", r.ContentType));
    }

    [Fact]
    public async Task Start_WithReceiver_MetricsArriveWithTotalsUnitsAndBuckets()
    {
        using EnvironmentScope env = EnvironmentScope.Otel();
        await using OtlpReceiver receiver = OtlpReceiver.Start();
        using (TelemetrySetup.Start(TelemetrySetup.ProtectRole, receiver.ConfigureExporter))
        {
            for (int i = 0; i < 3; i++)
            {
                using ObjectTelemetry item = ObjectTelemetry.Start(new BatchObject(i, $"cat/{i}.wav", 1000, null));
                item.Complete(TelemetryData.Done(i, 1000, clipped: 2));
            }

            using (ObjectTelemetry bad = ObjectTelemetry.Start(new BatchObject(9, "cat/bad.wav", 44, null)))
            {
                bad.Complete(TelemetryData.Failed(9, 44, "truncated data chunk"));
            }

            PipelineTelemetry.RecordMaintenance(new MaintenanceResult(2, 1), DateTimeOffset.UtcNow);
            PipelineTelemetry.StoreRetries.Add(4, new KeyValuePair<string, object?>(PipelineTags.RetryCause, "throttled"));
        }

        await receiver.WaitUntilAsync(r => r.LatestTotal("poscuda.objects.processed") >= 4, s_timeout);
        Assert.Equal(3, receiver.LatestTotal("poscuda.objects.processed", (PipelineTags.Outcome, "done")));
        Assert.Equal(1, receiver.LatestTotal("poscuda.objects.processed", (PipelineTags.Outcome, "failed")));
        Assert.Equal(3044, receiver.LatestTotal("poscuda.bytes.read"));
        Assert.Equal(3000, receiver.LatestTotal("poscuda.bytes.written"));
        Assert.Equal(6, receiver.LatestTotal("poscuda.samples.clipped"));
        Assert.Equal(2, receiver.LatestTotal("poscuda.leases.rescued"));
        Assert.Equal(1, receiver.LatestTotal("poscuda.batches.dead_lettered"));
        Assert.Equal(4, receiver.LatestTotal("poscuda.store.retries", (PipelineTags.RetryCause, "throttled")));
        Assert.Equal(4, receiver.LatestTotal("poscuda.object.duration"));
        OtlpMetricPoint bytes = receiver.MetricPoints.Last(p => p.Name == "poscuda.bytes.read");
        Assert.Equal("By", bytes.Unit);
        Assert.Equal("sum", bytes.Type);
        Assert.Equal("protect", bytes.Resource[PipelineTags.Role]);
        OtlpMetricPoint latency = receiver.MetricPoints.Last(p => p.Name == "poscuda.object.duration");
        Assert.Equal("s", latency.Unit);
        Assert.Equal(PipelineTelemetry.ObjectDuration.Advice!.HistogramBucketBoundaries, latency.ExplicitBounds);
    }

    [Fact]
    public async Task Start_JobGaugesUpdated_GaugesArrivePerJob()
    {
        using EnvironmentScope env = EnvironmentScope.Otel();
        await using OtlpReceiver receiver = OtlpReceiver.Start();
        Guid job = Guid.NewGuid();
        try
        {
            using (TelemetrySetup.Start(TelemetrySetup.CoordinatorRole, receiver.ConfigureExporter))
            {
                PipelineTelemetry.JobGauges.Update([TelemetryData.Status(job, new ClassStatus("cat", 100, 10, 0, 0, 9, 1, 0, 0, 0))]);
            }
        }
        finally
        {
            PipelineTelemetry.JobGauges.Clear();
        }

        (string, object) tag = (PipelineTags.JobId, job.ToString("D"));
        await receiver.WaitUntilAsync(r => r.MetricPoints.Any(p => p.Name == "poscuda.batches.pending"), s_timeout);
        Assert.Equal(9, receiver.LatestTotal("poscuda.batches.pending", tag));
        Assert.Equal(1, receiver.LatestTotal("poscuda.batches.leased", tag));
        Assert.Equal(90, receiver.LatestTotal("poscuda.objects.pending", tag));
        Assert.Equal("gauge", receiver.MetricPoints.Last(p => p.Name == "poscuda.batches.pending").Type);
    }

    [Fact]
    public async Task Start_EnvironmentEndpoint_ExportsWithServiceNameAndResourceAttributesFromEnvironment()
    {
        await using OtlpReceiver receiver = OtlpReceiver.Start();
        var values = new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["OTEL_SERVICE_NAME"] = "poscuda-batch-7",
            ["OTEL_RESOURCE_ATTRIBUTES"] = "deployment.environment.name=test,poscuda.site=lab",
        };
        foreach ((string name, string value) in receiver.EnvironmentVariables)
        {
            values[name] = value;
        }

        using (EnvironmentScope.Otel(values))
        using (TelemetrySetup.Start(TelemetrySetup.WorkerRole))
        {
            using Activity? planning = PipelineTelemetry.StartPlanning(TelemetryData.Definition());
        }

        await receiver.WaitUntilAsync(r => r.Spans.Count >= 1, s_timeout);
        OtlpSpan span = Assert.Single(receiver.Spans);
        Assert.Equal(OtlpReceiver.TracesPath, receiver.Requests.First(r => r.Path == OtlpReceiver.TracesPath).Path);
        Assert.Equal("poscuda-batch-7", span.Resource["service.name"]);
        Assert.Equal("test", span.Resource["deployment.environment.name"]);
        Assert.Equal("lab", span.Resource["poscuda.site"]);
        Assert.Equal("worker", span.Resource[PipelineTags.Role]);
    }

    [Fact]
    public async Task Start_KeyringInProcess_SecretNeverReachesAnyPayload()
    {
        using EnvironmentScope env = EnvironmentScope.Otel();
        byte[] secret = RandomNumberGenerator.GetBytes(32);
        var keyring = new Keyring
        {
            KeyId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)),
            Active = 1,
            Versions = [new KeyVersion(1, secret, DateTimeOffset.UtcNow, KeyState.Active)],
        };
        await using OtlpReceiver receiver = OtlpReceiver.Start();
        using (TelemetrySetup.Start(TelemetrySetup.ProtectRole, receiver.ConfigureExporter))
        {
            JobDefinition definition = TelemetryData.Definition() with { KeyId = keyring.KeyId, KeyVersion = keyring.Active };
            using (Activity? planning = PipelineTelemetry.StartPlanning(definition))
            {
                definition = PipelineTelemetry.WithTraceParent(definition, planning);
            }

            BatchLease lease = TelemetryData.Lease(definition, objects: 3);
            using BatchTelemetry batch = BatchTelemetry.Start(lease, "worker-1", DateTimeOffset.UtcNow);
            using (ObjectTelemetry failed = ObjectTelemetry.Start(lease.Objects[0]))
            {
                failed.Complete(TelemetryData.Failed(1, 10, "no fmt chunk"));
            }

            using (ObjectTelemetry error = ObjectTelemetry.Start(lease.Objects[1]))
            {
                error.Fail(new PosCudaException($"Job was planned with key {keyring.KeyId}, but this worker's keyring holds another.", isTransient: false));
            }

            batch.Released("Job was planned with another key.");
        }

        await receiver.WaitUntilAsync(r => r.Spans.Count >= 4 && r.MetricPoints.Count > 0, s_timeout);
        Assert.True(receiver.ContainsText(keyring.KeyId)); // The search sees what was sent...
        Assert.False(receiver.ContainsText(Convert.ToHexStringLower(secret))); // ...and the secret, in any spelling, was not.
        Assert.False(receiver.ContainsText(Convert.ToHexString(secret)));
        Assert.False(receiver.ContainsText(Convert.ToBase64String(secret)));
        Assert.False(receiver.ContainsText(Convert.ToBase64String(secret).TrimEnd('=').Replace('+', '-').Replace('/', '_')));
        Assert.False(receiver.ContainsBytes(secret));
    }

    [Fact]
    public async Task Start_UnreachableCollector_DisposeReturnsWithoutThrowing()
    {
        using EnvironmentScope env = EnvironmentScope.Otel();
        Uri closed;
        await using (OtlpReceiver gone = OtlpReceiver.Start())
        {
            closed = gone.Endpoint;
        }

        var clock = Stopwatch.StartNew();
        using (TelemetrySetup.Start(TelemetrySetup.WorkerRole, o => o.Endpoint = closed))
        {
            using Activity? planning = PipelineTelemetry.StartPlanning(TelemetryData.Definition());
        }

        Assert.InRange(clock.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(30));
    }

    private static void RunBatch(BatchLease lease)
    {
        using BatchTelemetry batch = BatchTelemetry.Start(lease, "worker-1", DateTimeOffset.UtcNow);
        var results = new List<ObjectResult>();
        foreach (BatchObject item in lease.Objects)
        {
            using ObjectTelemetry telemetry = ObjectTelemetry.Start(item);
            using (PipelineTelemetry.StartStage(SpanNames.StageGet))
            {
            }

            using (PipelineTelemetry.StartStage(SpanNames.StageProtect))
            {
            }

            using (PipelineTelemetry.StartStage(SpanNames.StagePut))
            {
            }

            ObjectResult result = TelemetryData.Done(item.ObjectId, item.Size);
            telemetry.Complete(result);
            results.Add(result);
        }

        batch.Completed(results);
        using Activity? completing = batch.StartCompletion();
    }
}
