namespace PosCuda.Shared.Storage;

/// <summary>A parsed <c>s3://bucket/prefix</c> location; the prefix is empty or ends with '/'.</summary>
internal readonly record struct S3Location(string Bucket, string Prefix)
{
    public const string Scheme = "s3://";

    /// <summary>Whether <paramref name="location"/> names an S3 location.</summary>
    public static bool IsS3(string location) => location.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase);

    /// <summary>Parses <c>s3://bucket</c>, <c>s3://bucket/</c> or <c>s3://bucket/some/prefix[/]</c>.</summary>
    /// <exception cref="ArgumentException">Not an S3 location, or no bucket.</exception>
    public static S3Location Parse(string location)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(location);
        if (!IsS3(location))
        {
            throw new ArgumentException($"Not an s3:// location: {location}", nameof(location));
        }

        string rest = location[Scheme.Length..];
        int slash = rest.IndexOf('/', StringComparison.Ordinal);
        string bucket = slash < 0 ? rest : rest[..slash];
        string prefix = slash < 0 ? string.Empty : rest[(slash + 1)..].Trim('/');
        if (bucket.Length == 0 || bucket.Contains('@', StringComparison.Ordinal) || bucket.Contains(':', StringComparison.Ordinal))
        {
            throw new ArgumentException($"An s3:// location needs a bucket name: {location}", nameof(location));
        }

        return new S3Location(bucket, prefix.Length == 0 ? string.Empty : prefix + "/");
    }

    /// <summary>Whether this location is <paramref name="outer"/> or lies inside it.</summary>
    public bool IsSameOrWithin(S3Location outer) =>
        string.Equals(Bucket, outer.Bucket, StringComparison.Ordinal) && Prefix.StartsWith(outer.Prefix, StringComparison.Ordinal);

    /// <inheritdoc />
    public override string ToString() => Scheme + Bucket + "/" + Prefix;
}
