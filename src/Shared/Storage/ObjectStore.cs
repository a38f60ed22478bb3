namespace PosCuda.Shared.Storage;

/// <summary>Opens object stores by location.</summary>
public static class ObjectStore
{
    /// <summary>Opens <paramref name="location"/>: a local path, <c>file://</c> URI or <c>s3://bucket/prefix</c>.</summary>
    /// <remarks><c>s3://</c> opens an <see cref="S3ObjectStore"/>; anything else a <see cref="FileObjectStore"/>.</remarks>
    public static IObjectStore Open(string location, ObjectStoreOptions options)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(location);
        ArgumentNullException.ThrowIfNull(options);
        return S3Location.IsS3(location) ? new S3ObjectStore(location, options) : new FileObjectStore(location);
    }

    /// <summary>Whether location <paramref name="inner"/> is equal to <paramref name="outer"/> or lies inside it.</summary>
    /// <remarks>
    /// Used to refuse a destination that is, or is inside, the source (and the other way round), where writing
    /// outputs would overwrite inputs or feed them back into the listing. Folders compare as full paths with every
    /// symbolic link resolved and a trailing separator (so <c>/data/in2</c> is not inside <c>/data/in</c>); S3
    /// locations compare by bucket and '/'-terminated prefix. A folder and an S3 location never overlap.
    /// </remarks>
    public static bool IsWithin(string inner, string outer)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(inner);
        ArgumentException.ThrowIfNullOrWhiteSpace(outer);
        bool innerIsS3 = S3Location.IsS3(inner);
        if (innerIsS3 != S3Location.IsS3(outer))
        {
            return false;
        }

        if (innerIsS3)
        {
            return S3Location.Parse(inner).IsSameOrWithin(S3Location.Parse(outer));
        }

        string innerPath = LocalPaths.ResolveLinks(LocalPaths.ToFullPath(inner));
        string outerPath = LocalPaths.ResolveLinks(LocalPaths.ToFullPath(outer));
        return LocalPaths.IsSameOrWithin(innerPath, outerPath);
    }
}
