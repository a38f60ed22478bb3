namespace PosCuda.Shared.Ledger;

/// <summary>A job's counts summed over its classes: the one place status, gauges and reports total them.</summary>
/// <param name="Objects">Objects planned into batches.</param>
/// <param name="Done">Objects protected.</param>
/// <param name="Failed">Objects failed as bad input.</param>
/// <param name="Dead">Objects in dead-lettered batches.</param>
/// <param name="PendingBatches">Batches planned or waiting for a worker.</param>
/// <param name="LeasedBatches">Batches a worker holds.</param>
/// <param name="DoneBatches">Batches finished.</param>
/// <param name="DeadBatches">Batches dead-lettered.</param>
/// <param name="Retries">Batch attempts beyond the first.</param>
public sealed record JobTotals(
    long Objects, long Done, long Failed, long Dead, long PendingBatches, long LeasedBatches, long DoneBatches, long DeadBatches, int Retries)
{
    /// <summary>Objects with an outcome: done, failed or dead.</summary>
    public long Finished => Done + Failed + Dead;

    /// <summary>Objects still waiting for an outcome.</summary>
    public long Pending => Math.Max(0, Objects - Finished);

    /// <summary>Sums <paramref name="classes"/>.</summary>
    public static JobTotals Of(IReadOnlyList<ClassStatus> classes)
    {
        ArgumentNullException.ThrowIfNull(classes);
        long objects = 0, done = 0, failed = 0, dead = 0, pending = 0, leased = 0, doneBatches = 0, deadBatches = 0;
        int retries = 0;
        foreach (ClassStatus c in classes)
        {
            objects += c.Objects;
            done += c.Done;
            failed += c.Failed;
            dead += c.Dead;
            pending += c.PendingBatches;
            leased += c.LeasedBatches;
            doneBatches += c.DoneBatches;
            deadBatches += c.DeadBatches;
            retries += c.Retries;
        }

        return new JobTotals(objects, done, failed, dead, pending, leased, doneBatches, deadBatches, retries);
    }
}
