namespace PosCuda.Shared.Ledger;

/// <summary>What a job does with each object.</summary>
public enum JobKind
{
    /// <summary>Protects each source object into the destination.</summary>
    Protect,

    /// <summary>Re-protects each published object of one key version under the keyring's active version, in place (docs/vault.md).</summary>
    Rekey,

    /// <summary>Rebuilds each published object's original from its restore record into the destination.</summary>
    Restore,
}
