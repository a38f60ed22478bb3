using PosCuda.Shared.Ledger;
using PosCuda.Shared.Protection;

namespace PosCuda.Shared.Tests.Telemetry;

/// <summary>Ledger records for telemetry tests.</summary>
internal static class TelemetryData
{
    public const string KeyId = "0123456789abcdef";

    public static JobDefinition Definition(string? traceParent = null)
        => new("/data/src", "/data/dst", "dir", new ProtectionParameters(), KeyId, 1, TraceParent: traceParent);

    public static BatchLease Lease(JobDefinition definition, int objects = 2, Guid? jobId = null)
    {
        var items = new BatchObject[objects];
        for (int i = 0; i < objects; i++)
        {
            items[i] = new BatchObject(i + 1, $"dog/clip-{i + 1}.wav", 1000 + i, null);
        }

        return new BatchLease(jobId ?? Guid.NewGuid(), definition, 42, "dog", Guid.NewGuid(), 1, DateTimeOffset.UtcNow.AddSeconds(15), items);
    }

    public static JobStatus Status(Guid jobId, params ClassStatus[] classes)
        => new(new JobRecord(jobId, Definition(), JobState.Running, DateTimeOffset.UtcNow, null), classes, 0, 0, 0, 0, []);

    public static ObjectResult Done(long objectId, long bytes, long clipped = 0)
        => new(objectId, ObjectOutcome.Done, null, 1, "\"etag\"", "\"out\"", bytes, clipped);

    public static ObjectResult Failed(long objectId, long bytes, string reason)
        => new(objectId, ObjectOutcome.Failed, reason, 1, "\"etag\"", null, bytes, 0);
}
