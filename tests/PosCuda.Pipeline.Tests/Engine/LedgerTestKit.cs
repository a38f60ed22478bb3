using PosCuda.Engine.Hosting;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Protection;
using PosCuda.Testing;
using Xunit.Abstractions;

namespace PosCuda.Pipeline.Tests.Engine;

/// <summary>The Akka test kit (every message serialised, as on the wire) over a real SQLite ledger of the test's own.</summary>
public abstract class LedgerTestKit(string name, ITestOutputHelper output)
    : Akka.TestKit.Xunit2.TestKit(EngineConfig.Local(serializeAllMessages: true), name, output), IAsyncLifetime
{
    /// <summary>A job's W3C trace context, as planning stores it.</summary>
    protected const string TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    private readonly TempDirectory _temp = new();
    private IWorkLedger? _ledger;

    /// <summary>The ledger.</summary>
    protected IWorkLedger Ledger => _ledger ?? throw new InvalidOperationException("The ledger is not open yet.");

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        _ledger = WorkLedger.Open("sqlite:" + _temp["ledger.db"]);
        await _ledger.MigrateAsync(CancellationToken.None);
    }

    /// <inheritdoc />
    async Task IAsyncLifetime.DisposeAsync()
    {
        if (_ledger is not null)
        {
            await _ledger.DisposeAsync();
        }

        _temp.Dispose();
    }

    /// <summary>A running job whose classes hold the given numbers of objects, in batches of two.</summary>
    protected async Task<Guid> CreateJobAsync(params (string Label, int Objects)[] classes)
    {
        Guid job = await Ledger.CreateJobAsync(
            new JobDefinition($"src-{Guid.NewGuid():N}", "dst", "regex:x", new ProtectionParameters(), "key", 1, TraceParent: TraceParent),
            CancellationToken.None);
        await Ledger.AddObjectsAsync(
            job, [.. classes.SelectMany(c => Enumerable.Range(0, c.Objects).Select(i => new PlannedObject($"{c.Label}/{i}.wav", c.Label, 10, null)))], 2, CancellationToken.None);
        await Ledger.StartJobAsync(job, CancellationToken.None);
        return job;
    }

    /// <summary>Claims and completes every batch of <paramref name="job"/> (done, without touching any store).</summary>
    protected async Task FinishAllAsync(Guid job)
    {
        while (await Ledger.ClaimBatchAsync("test", TimeSpan.FromMinutes(1), job, CancellationToken.None) is BatchLease lease)
        {
            await Ledger.CompleteBatchAsync(
                lease, [.. lease.Objects.Select(o => new ObjectResult(o.ObjectId, ObjectOutcome.Done, null, 1, null, "e", o.Size, 0))], CancellationToken.None);
        }
    }
}
