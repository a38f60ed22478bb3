namespace PosCuda.Shared.Protection;

/// <summary>What protecting one clip of a gathered batch did: a result, or why the clip was refused.</summary>
/// <param name="Result">The result; null when the clip was refused.</param>
/// <param name="Failure">Why the clip was refused (bad input); null when it was protected.</param>
public readonly record struct ProtectOutcome(ProtectResult? Result, InvalidObjectException? Failure);
