namespace PosCuda.Engine.Processing;

/// <summary>The user-metadata names every protected object carries (never a secret).</summary>
public static class OutputMetadata
{
    /// <summary>The spec version, e.g. <c>poscuda-v1</c>.</summary>
    public const string Spec = "poscuda-spec";

    /// <summary>The keyring's key id.</summary>
    public const string KeyId = "poscuda-key-id";

    /// <summary>The key version used.</summary>
    public const string KeyVersion = "poscuda-key-version";

    /// <summary>The job id.</summary>
    public const string Job = "poscuda-job";

    /// <summary>The source object's ETag.</summary>
    public const string SourceETag = "poscuda-source-etag";
}
