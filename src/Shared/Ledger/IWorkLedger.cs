namespace PosCuda.Shared.Ledger;

/// <summary>The distributed engine's memory: jobs, batches under fenced leases, per-object results; every role's part of it.</summary>
/// <remarks>
/// Implementations: SQLite (embedded, one machine) and PostgreSQL (many nodes). Every method is safe to call
/// from many processes at once; none holds a transaction open between calls.
/// </remarks>
public interface IWorkLedger : IPlanningLedger, IBatchDispatchLedger, IBatchWorkLedger, ILedgerReader, IAsyncDisposable
{
    /// <summary>Describes where the ledger lives, without any password, for logs.</summary>
    string Describe();

    /// <summary>Creates or upgrades the schema (idempotent, safe under concurrency).</summary>
    Task MigrateAsync(CancellationToken cancellationToken);
}
