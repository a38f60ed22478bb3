using PosCuda.Shared.Ledger;

namespace PosCuda.Engine.Processing;

/// <summary>Hears what a worker does, for progress displays; called from many threads.</summary>
/// <remarks>Objects are reported as they finish, before their batch is recorded; a batch that later fails is retried and its objects reported again.</remarks>
public interface IWorkObserver
{
    /// <summary>One object finished (done or failed).</summary>
    void ObjectCompleted(ObjectResult result);
}
