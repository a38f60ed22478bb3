using PosCuda.Shared.Ledger;

namespace PosCuda.Shared.Tests.Ledger;

/// <summary>Completes every finished job the way the coordinator does: find them, then complete each.</summary>
internal static class FinishedJobs
{
    /// <summary>Completes the running jobs whose batches are all done or dead and returns them.</summary>
    public static async Task<IReadOnlyList<Guid>> CompleteFinishedJobsAsync(this IWorkLedger ledger, CancellationToken cancellationToken)
    {
        var completed = new List<Guid>();
        foreach (Guid jobId in await ledger.FindFinishedJobsAsync(cancellationToken))
        {
            if (await ledger.CompleteJobAsync(jobId, cancellationToken))
            {
                completed.Add(jobId);
            }
        }

        return completed;
    }
}
