namespace PosCuda.Shared.Ledger;

/// <summary>Progress of one class of a job.</summary>
public sealed record ClassStatus(
    string Label,
    long Objects,
    long Done,
    long Failed,
    long Dead,
    int PendingBatches,
    int LeasedBatches,
    int DoneBatches,
    int DeadBatches,
    int Retries);
