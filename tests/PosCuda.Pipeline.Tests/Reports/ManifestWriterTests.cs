using System.Globalization;
using System.Text.Json;
using PosCuda.Coordinator.Reports;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Protection;
using PosCuda.Shared.Storage;
using PosCuda.Testing;

namespace PosCuda.Pipeline.Tests.Reports;

public sealed class ManifestWriterTests
{
    [Fact]
    public async Task WriteAsync_JobOfManyChunks_ListsEveryObjectOnceInKeyOrderWithItsResult()
    {
        // More objects than several of the writer's chunks, and a count that does not divide into them.
        const int Count = 5_000;
        using var temp = new TempDirectory();
        await using IWorkLedger ledger = WorkLedger.Open("sqlite:" + temp["ledger.db"]);
        await ledger.MigrateAsync(CancellationToken.None);
        var definition = new JobDefinition("/src", temp["dst"], "dir", new ProtectionParameters(), "0123456789abcdef", 1, 5);
        Guid jobId = await ledger.CreateJobAsync(definition, CancellationToken.None);
        List<PlannedObject> planned = [.. Enumerable.Range(0, Count)
            .Select(i => new PlannedObject(string.Create(CultureInfo.InvariantCulture, $"{i % 7}/clip-{i:D5}.wav"), (i % 7).ToString(CultureInfo.InvariantCulture), 100 + i, $"src-{i}"))];
        await ledger.AddObjectsAsync(jobId, planned, batchSize: 300, CancellationToken.None);
        await ledger.StartJobAsync(jobId, CancellationToken.None);

        // Every 97th object fails; the rest are protected.
        var expected = new Dictionary<string, (string Outcome, string? Reason, long Bytes)>(StringComparer.Ordinal);
        while (await ledger.ClaimBatchAsync("w1", TimeSpan.FromMinutes(1), jobId, CancellationToken.None) is BatchLease lease)
        {
            List<ObjectResult> results = [];
            foreach (BatchObject item in lease.Objects)
            {
                int index = int.Parse(item.Key.AsSpan(item.Key.IndexOf('-', StringComparison.Ordinal) + 1, 5), CultureInfo.InvariantCulture);
                bool fails = index % 97 == 0;
                results.Add(fails
                    ? new ObjectResult(item.ObjectId, ObjectOutcome.Failed, $"bad clip {index}", 1, item.SourceETag, null, item.Size, 0)
                    : new ObjectResult(item.ObjectId, ObjectOutcome.Done, null, 1, item.SourceETag, $"out-{index}", item.Size, index % 3));
                expected[item.Key] = fails ? ("failed", $"bad clip {index}", item.Size) : ("protected", null, item.Size);
            }

            await ledger.CompleteBatchAsync(lease, results, CancellationToken.None);
        }

        await using var destination = new FileObjectStore(temp["dst"]);
        JobSummary summary = await ManifestWriter.WriteAsync(ledger, jobId, destination, CancellationToken.None);

        using JsonDocument manifest = JsonDocument.Parse(await File.ReadAllBytesAsync(Path.Combine(temp["dst"], ManifestWriter.KeyFor(jobId))));
        JsonElement root = manifest.RootElement;
        Assert.Equal(JobReportWriter.ManifestFormat, root.GetProperty("format").GetString());
        List<JsonElement> objects = [.. root.GetProperty("objects").EnumerateArray()];
        List<string> keys = [.. objects.Select(o => o.GetProperty("key").GetString()!)];
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), keys);
        foreach (JsonElement item in objects)
        {
            (string outcome, string? reason, long bytes) = expected[item.GetProperty("key").GetString()!];
            Assert.Equal(outcome, item.GetProperty("outcome").GetString());
            Assert.Equal(reason, item.TryGetProperty("reason", out JsonElement r) ? r.GetString() : null);
            Assert.Equal(bytes, item.GetProperty("bytes").GetInt64());
        }

        int failed = expected.Values.Count(v => v.Outcome == "failed");
        Assert.Equal(52, failed);
        Assert.Equal(Count - failed, summary.Protected);
        Assert.Equal(failed, summary.Failed);
        Assert.Equal(Count - failed, root.GetProperty("totals").GetProperty("protected").GetInt64());
    }
}
