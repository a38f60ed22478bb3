namespace PosCuda.Shared.Protection;

/// <summary>The life-cycle state of a key version.</summary>
public enum KeyState
{
    Active,
    Retired,
    Compromised,
}
