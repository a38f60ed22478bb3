namespace PosCuda.Shared.Protection;

/// <summary>The <c>poscuda-keyring/1</c> file as JSON holds it, before validation (see <see cref="KeyringJson"/>).</summary>
/// <remarks>Every member is optional here so that a missing field gets its own message; the secrets' buffers are wiped after use.</remarks>
internal sealed class KeyringDocument
{
    public string? Format { get; set; }

    public string? KeyId { get; set; }

    public int? Active { get; set; }

    public List<VersionDocument>? Versions { get; set; }

    /// <summary>One element of <c>versions</c>.</summary>
    internal sealed class VersionDocument
    {
        public int? Version { get; set; }

        /// <summary>Base64 in the file; decoded by the serializer straight from the file's bytes, with no string copy.</summary>
        public byte[]? Secret { get; set; }

        /// <summary>An ISO 8601 time, read as the format always was (UTC when no offset is given).</summary>
        public string? Created { get; set; }

        /// <summary><c>active</c>, <c>retired</c> or <c>compromised</c>, exactly.</summary>
        public string? State { get; set; }
    }
}
