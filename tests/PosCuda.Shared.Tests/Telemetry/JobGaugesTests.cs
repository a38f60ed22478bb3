using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Time.Testing;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Telemetry;

namespace PosCuda.Shared.Tests.Telemetry;

[Collection(TelemetryCollection.Name)]
public sealed class JobGaugesTests
{
    private static readonly DateTimeOffset s_start = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Update_TwoJobs_ObservesPerJobSumsOverClasses()
    {
        var gauges = new JobGauges();
        Guid a = Guid.NewGuid();
        Guid b = Guid.NewGuid();
        gauges.Update(
        [
            TelemetryData.Status(a, Class("cat", objects: 100, done: 40, failed: 2, dead: 0, pending: 3, leased: 2, deadBatches: 0), Class("dog", 50, 10, 0, 5, 1, 1, 1)),
            TelemetryData.Status(b, Class("cat", 10, 10, 0, 0, 0, 0, 0)),
        ]);

        Assert.Equal(2, gauges.Count);
        Assert.Equal(4, ValueFor(gauges.ObservePendingBatches(), a));
        Assert.Equal(3, ValueFor(gauges.ObserveLeasedBatches(), a));
        Assert.Equal(1, ValueFor(gauges.ObserveDeadBatches(), a));
        Assert.Equal(58 + 35, ValueFor(gauges.ObservePendingObjects(), a));
        Assert.Equal(0, ValueFor(gauges.ObservePendingObjects(), b));
    }

    [Fact]
    public void Update_JobLeftOut_StopsReportingIt()
    {
        var gauges = new JobGauges();
        Guid a = Guid.NewGuid();
        Guid b = Guid.NewGuid();
        gauges.Update([TelemetryData.Status(a, Class("cat", 1, 0, 0, 0, 1, 0, 0)), TelemetryData.Status(b, Class("cat", 1, 0, 0, 0, 1, 0, 0))]);

        gauges.Update([TelemetryData.Status(b, Class("cat", 1, 0, 0, 0, 1, 0, 0))]);

        Assert.DoesNotContain(gauges.ObservePendingBatches(), m => JobOf(m) == a.ToString("D"));
        Assert.Single(gauges.ObservePendingBatches());
    }

    [Fact]
    public void Observe_SnapshotOlderThanMaxAge_ReportsNothing()
    {
        var clock = new FakeTimeProvider(s_start);
        var gauges = new JobGauges(clock, TimeSpan.FromSeconds(30));
        gauges.Update([TelemetryData.Status(Guid.NewGuid(), Class("cat", 5, 0, 0, 0, 1, 0, 0))]);

        clock.Advance(TimeSpan.FromSeconds(29));
        Assert.Single(gauges.ObservePendingBatches());
        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Empty(gauges.ObservePendingBatches());
        Assert.Equal(0, gauges.Count);
    }

    [Fact]
    public void Clear_AfterUpdate_ReportsNothing()
    {
        var gauges = new JobGauges();
        gauges.Update([TelemetryData.Status(Guid.NewGuid(), Class("cat", 5, 0, 0, 0, 1, 0, 0))]);

        gauges.Clear();

        Assert.Empty(gauges.ObservePendingBatches());
        Assert.Empty(gauges.ObservePendingObjects());
    }

    [Fact]
    public void Constructor_NonPositiveMaxAge_Throws()
        => Assert.Throws<ArgumentOutOfRangeException>(() => new JobGauges(maxAge: TimeSpan.Zero));

    [Fact]
    public void PipelineGauges_SharedSnapshot_ObservedThroughMeterListener()
    {
        Guid job = Guid.NewGuid();
        using var pending = new MetricCollector<long>(PipelineTelemetry.PendingBatches);
        using var leased = new MetricCollector<long>(PipelineTelemetry.LeasedBatches);
        using var dead = new MetricCollector<long>(PipelineTelemetry.DeadBatches);
        using var pendingObjects = new MetricCollector<long>(PipelineTelemetry.PendingObjects);
        try
        {
            PipelineTelemetry.JobGauges.Update([TelemetryData.Status(job, Class("cat", 20, 5, 1, 0, 7, 2, 3))]);

            MetricCollector<long>[] collectors = [pending, leased, dead, pendingObjects];
            foreach (MetricCollector<long> collector in collectors)
            {
                collector.RecordObservableInstruments();
            }

            var tag = new KeyValuePair<string, object?>(PipelineTags.JobId, job.ToString("D"));
            Assert.Equal([7L, 2L, 3L, 14L], collectors.Select(c => Assert.Single(c.GetMeasurementSnapshot(), m => m.ContainsTags(tag)).Value));
        }
        finally
        {
            PipelineTelemetry.JobGauges.Clear();
        }
    }

    private static ClassStatus Class(string label, long objects, long done, long failed, long dead, int pending, int leased, int deadBatches)
        => new(label, objects, done, failed, dead, pending, leased, DoneBatches: 0, DeadBatches: deadBatches, Retries: 0);

    private static long ValueFor(IEnumerable<System.Diagnostics.Metrics.Measurement<long>> measurements, Guid job)
        => Assert.Single(measurements, m => JobOf(m) == job.ToString("D")).Value;

    private static string? JobOf(System.Diagnostics.Metrics.Measurement<long> measurement)
    {
        foreach (KeyValuePair<string, object?> tag in measurement.Tags)
        {
            if (tag.Key == PipelineTags.JobId)
            {
                return tag.Value as string;
            }
        }

        return null;
    }
}
