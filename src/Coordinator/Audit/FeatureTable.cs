namespace PosCuda.Coordinator.Audit;

/// <summary>The feature vectors of one <see cref="FeatureRequest"/>, by key, and the objects that had none.</summary>
/// <param name="Name">The request's name.</param>
/// <param name="Vectors">Feature vectors by object key.</param>
/// <param name="Failures">Objects that could not be read or decoded, with the reason.</param>
/// <param name="CachePath">The cache file the table was read from or written to, if any.</param>
/// <param name="FromCache">Whether it was read from the cache.</param>
public sealed record FeatureTable(
    string Name, IReadOnlyDictionary<string, float[]> Vectors, IReadOnlyList<(string Key, string Reason)> Failures, string? CachePath, bool FromCache);
