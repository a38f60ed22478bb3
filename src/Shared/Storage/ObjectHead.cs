namespace PosCuda.Shared.Storage;

/// <summary>An object's entity tag and user metadata (names without the <c>x-amz-meta-</c> prefix; empty in a folder).</summary>
public sealed record ObjectHead(string? ETag, IReadOnlyDictionary<string, string> Metadata);
