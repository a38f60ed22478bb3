namespace PosCuda.Shared.Storage;

/// <summary>Opens object stores by location.</summary>
public static class ObjectStore
{
    /// <summary>Opens <paramref name="location"/>: a local path, <c>file://</c> URI or <c>s3://bucket/prefix</c>.</summary>
    public static IObjectStore Open(string location, ObjectStoreOptions options) => throw new NotImplementedException();

    /// <summary>TEMPORARY stub.</summary>
    public static bool IsWithin(string inner, string outer) => throw new NotImplementedException(inner + outer);
}
