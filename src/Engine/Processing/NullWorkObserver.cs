using PosCuda.Shared.Ledger;

namespace PosCuda.Engine.Processing;

/// <summary>An observer that ignores everything.</summary>
public sealed class NullWorkObserver : IWorkObserver
{
    /// <summary>The one instance.</summary>
    public static readonly NullWorkObserver Instance = new();

    private NullWorkObserver()
    {
    }

    /// <inheritdoc/>
    public void ObjectCompleted(ObjectResult result)
    {
    }
}
