namespace PosCuda.Coordinator.Verify;

/// <summary>One problem <c>poscuda verify</c> found with a published object.</summary>
/// <param name="Key">The object's key.</param>
/// <param name="Kind">A short name: <c>missing</c>, <c>modified</c>, <c>metadata</c>, <c>compromised</c>, <c>patch</c>, <c>outside-patch</c>, <c>no-original</c>, <c>unreadable</c>.</param>
/// <param name="Detail">What is wrong, naming no secret.</param>
public sealed record VerifyFinding(string Key, string Kind, string Detail);
