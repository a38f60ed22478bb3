namespace PosCuda.Engine.Hosting;

/// <summary>Finishes a job whose batches are all done or dead: writes its manifest, then marks it completed in the ledger.</summary>
/// <remarks>Idempotent: the coordinator may call it again for the same job after a crash between the two steps.</remarks>
public interface IJobFinisher
{
    /// <summary>Writes the manifest of <paramref name="jobId"/> and completes it.</summary>
    Task FinishAsync(Guid jobId, CancellationToken cancellationToken);
}
