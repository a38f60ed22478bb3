namespace PosCuda.Shared.Storage;

/// <summary>What an object must be for a conditional write to land: absent, or still at a given entity tag.</summary>
public sealed record WriteCondition
{
    private WriteCondition(string? ifMatch) => IfMatch = ifMatch;

    /// <summary>The entity tag the object must still have; null: the object must not exist.</summary>
    public string? IfMatch { get; }

    /// <summary>The write lands only where no object exists.</summary>
    public static WriteCondition Absent { get; } = new((string?)null);

    /// <summary>The write lands only while the object still has <paramref name="etag"/>.</summary>
    public static WriteCondition Matching(string etag)
    {
        ArgumentException.ThrowIfNullOrEmpty(etag);
        return new WriteCondition(etag);
    }

    /// <inheritdoc/>
    public override string ToString() => IfMatch is null ? "if absent" : $"if ETag {IfMatch}";
}
