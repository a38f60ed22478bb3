namespace PosCuda.Shared.Ledger;

/// <summary>How many batches of one class of a job are in each state.</summary>
/// <param name="Label">The class.</param>
/// <param name="Pending">Waiting for a worker (planned, or pending).</param>
/// <param name="Claimable">Of those, the ones a worker can claim now (opened to workers; planning may still fill the others).</param>
/// <param name="Leased">Held by a worker.</param>
/// <param name="Done">Completed.</param>
/// <param name="Dead">Dead-lettered.</param>
public sealed record ClassBatches(string Label, int Pending, int Claimable, int Leased, int Done, int Dead);
