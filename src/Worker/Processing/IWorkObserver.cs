using PosCuda.Shared.Ledger;

namespace PosCuda.Worker.Processing;

/// <summary>Hears what a worker does, for progress displays; called from many threads.</summary>
public interface IWorkObserver
{
    /// <summary>One object finished (done or failed).</summary>
    void ObjectCompleted(ObjectResult result);

    /// <summary>A batch attempt ended without completing; its objects will be retried.</summary>
    void BatchAbandoned(BatchLease lease, string reason);
}
