namespace PosCuda.Shared.Ledger;

/// <summary>TEMPORARY stub until the ledger implementations land.</summary>
public static class WorkLedger
{
    /// <summary>Opens a ledger.</summary>
    public static IWorkLedger Open(string location) => throw new NotImplementedException(location);
}
