namespace PosCuda.Shared.Ledger;

/// <summary>Progress of a job: per class, with recent throughput.</summary>
/// <param name="Job">The job.</param>
/// <param name="Classes">Per-class counts, ordered by label.</param>
/// <param name="ObjectsLastMinute">Objects completed (done or failed) in the last 60 seconds.</param>
/// <param name="BytesLastMinute">Bytes written in the last 60 seconds.</param>
/// <param name="ClippedSamples">Clipped samples over all done objects.</param>
/// <param name="BytesWritten">Bytes written over all done objects.</param>
/// <param name="DeadLetters">Dead batches with their last error.</param>
public sealed record JobStatus(
    JobRecord Job,
    IReadOnlyList<ClassStatus> Classes,
    long ObjectsLastMinute,
    long BytesLastMinute,
    long ClippedSamples,
    long BytesWritten,
    IReadOnlyList<DeadLetter> DeadLetters)
{
    /// <summary>The counts summed over every class.</summary>
    public JobTotals Totals => JobTotals.Of(Classes);
}
