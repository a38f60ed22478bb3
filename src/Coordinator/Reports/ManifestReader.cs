using System.Globalization;
using System.Text.Json;
using PosCuda.Shared;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Protection;
using PosCuda.Shared.Storage;

namespace PosCuda.Coordinator.Reports;

/// <summary>Reads what a published set's manifests say of the jobs that wrote it: the part before the objects.</summary>
public static class ManifestReader
{
    /// <summary>The head of a manifest: the job, its key and its protection parameters.</summary>
    /// <param name="JobId">The job.</param>
    /// <param name="Destination">Where it wrote.</param>
    /// <param name="KeyId">Its keyring's id.</param>
    /// <param name="KeyVersion">The key version it wrote with.</param>
    /// <param name="Kind">What it did (manifests written before this was recorded: protect).</param>
    /// <param name="Parameters">Its protection parameters.</param>
    /// <param name="CreatedAt">When it was created.</param>
    public sealed record Head(Guid JobId, string Destination, string KeyId, int KeyVersion, JobKind Kind, ProtectionParameters Parameters, DateTimeOffset CreatedAt);

    // The head is a few hundred bytes; the objects follow it. A head longer than this (paths of many kilobytes) is skipped.
    private const int HeadBytes = 64 * 1024;

    /// <summary>The heads of the manifests in <paramref name="manifests"/> (a destination's <c>.poscuda/manifests</c>);
    /// a manifest that cannot be read or parsed is left out and named in <paramref name="unreadable"/>.</summary>
    public static async Task<IReadOnlyList<Head>> ReadHeadsAsync(IObjectStore manifests, ICollection<string> unreadable, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(manifests);
        ArgumentNullException.ThrowIfNull(unreadable);
        var heads = new List<Head>();
        await foreach (StoredObject item in manifests.ListAsync(cancellationToken).ConfigureAwait(false))
        {
            if (!item.Key.EndsWith(".json", StringComparison.Ordinal))
            {
                continue;
            }

            try
            {
                await using ObjectReader reader = await manifests.OpenReadAsync(item.Key, HeadBytes, cancellationToken).ConfigureAwait(false);
                if (Parse(reader.Prefix.Span) is { } head)
                {
                    heads.Add(head);
                }
                else
                {
                    unreadable.Add($"{item.Key}: not a poscuda manifest, or its head is incomplete");
                }
            }
            catch (Exception e) when (e is PosCudaException or JsonException or ArgumentException or FormatException or KeyNotFoundException or InvalidOperationException)
            {
                unreadable.Add($"{item.Key}: {e.Message}");
            }
        }

        return heads;
    }

    /// <summary>Parses a manifest's head from its first bytes; null when they do not hold one whole.</summary>
    /// <exception cref="JsonException">The bytes are not JSON.</exception>
    /// <exception cref="ArgumentException">A parameter is out of range.</exception>
    public static Head? Parse(ReadOnlySpan<byte> prefix)
    {
        var reader = new Utf8JsonReader(prefix, isFinalBlock: false, default);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return null;
        }

        var text = new Dictionary<string, string>(StringComparer.Ordinal);
        var parameters = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            string name = reader.GetString()!;
            if (name == "objects")
            {
                break; // The head is whole.
            }

            if (!reader.Read())
            {
                return null;
            }

            if (name == "parameters")
            {
                if (!JsonElement.TryParseValue(ref reader, out JsonElement? value) || value is not { ValueKind: JsonValueKind.Object } block)
                {
                    return null;
                }

                foreach (JsonProperty p in block.EnumerateObject())
                {
                    parameters[p.Name] = p.Value.Clone();
                }
            }
            else if (reader.TokenType is JsonTokenType.String or JsonTokenType.Number)
            {
                text[name] = reader.TokenType == JsonTokenType.String
                    ? reader.GetString()!
                    : reader.GetInt64().ToString(CultureInfo.InvariantCulture);
            }
            else if (!reader.TrySkip())
            {
                return null;
            }
        }

        if (text.GetValueOrDefault("format") != JobReportWriter.ManifestFormat
            || !text.TryGetValue("jobId", out string? job) || !text.TryGetValue("destination", out string? destination)
            || !text.TryGetValue("keyId", out string? keyId) || !text.TryGetValue("keyVersion", out string? version)
            || !text.TryGetValue("createdAt", out string? created) || !parameters.TryGetValue("spec", out JsonElement spec))
        {
            return null;
        }

        JobKind kind = text.TryGetValue("operation", out string? operation) ? Enum.Parse<JobKind>(operation, ignoreCase: true) : JobKind.Protect;
        return new Head(
            Guid.Parse(job), destination, keyId, int.Parse(version, CultureInfo.InvariantCulture), kind,
            ToParameters(spec.GetString()!, parameters), DateTimeOffset.Parse(created, CultureInfo.InvariantCulture));
    }

    private static ProtectionParameters ToParameters(string spec, Dictionary<string, JsonElement> p)
    {
        if (spec == PoscudaV2.SpecName)
        {
            var code = new SpectralCodeParameters(
                p["codeSlots"].GetInt32(), p["codeWeight"].GetInt32(), p["codeFmin"].GetDouble(), p["codeFmax"].GetDouble(),
                p["codeSnr"].GetDouble(), p["codeDepth"].GetDouble());
            return new ProtectionParameters(spec: spec, code: code);
        }

        return new ProtectionParameters(
            p["taps"].GetInt32(), p["patch"].GetInt32(), p["blur"].GetDouble(), p["window"].GetInt32(),
            PatchModeNames.TryParse(p["mode"].GetString()) ?? throw new FormatException($"unknown patch mode '{p["mode"].GetString()}'"), spec);
    }
}
