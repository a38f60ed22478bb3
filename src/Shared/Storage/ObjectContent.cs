namespace PosCuda.Shared.Storage;

/// <summary>The bytes of one object and the entity tag they were read at.</summary>
public sealed record ObjectContent(byte[] Data, string? ETag);
