using System.Collections.Concurrent;
using PosCuda.Shared.Ledger;

namespace PosCuda.Engine.Batches;

/// <summary>Job definitions read from the ledger once per job and node (a grant carries only ids and keys).</summary>
public sealed class JobDefinitions(IWorkLedger ledger)
{
    private readonly ConcurrentDictionary<Guid, Task<JobDefinition>> _jobs = new();

    /// <summary>The definition of <paramref name="jobId"/>.</summary>
    public Task<JobDefinition> GetAsync(Guid jobId)
    {
        Task<JobDefinition> task = _jobs.GetOrAdd(jobId, LoadAsync);
        if (task.IsFaulted)
        {
            _jobs.TryRemove(new KeyValuePair<Guid, Task<JobDefinition>>(jobId, task)); // Not cached: the next grant asks again.
        }

        return task;
    }

    private async Task<JobDefinition> LoadAsync(Guid jobId)
        => (await ledger.GetJobAsync(jobId, CancellationToken.None).ConfigureAwait(false))?.Definition
            ?? throw new InvalidOperationException($"Job {jobId} is not in the ledger.");
}
