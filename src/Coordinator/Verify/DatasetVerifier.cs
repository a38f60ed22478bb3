using System.Collections.Concurrent;
using System.Globalization;
using PosCuda.Coordinator.Datasets;
using PosCuda.Engine.Processing;
using PosCuda.Engine.Vault;
using PosCuda.Shared;
using PosCuda.Shared.Labels;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Protection;
using PosCuda.Shared.Storage;
using PosCuda.Shared.Vault;

namespace PosCuda.Coordinator.Verify;

/// <summary>Checks every published object against the key version it declares (docs/vault.md, "Verify").</summary>
/// <remarks>
/// Per object: metadata (spec, key id, a version the keyring holds, not compromised); with the original (from a source,
/// or rebuilt from its restore record): the published bytes equal the spec's output for that original under that
/// version, so bytes outside the patch equal the original and the patch equals the spec's output. Where the store keeps
/// no metadata (a folder), the version is the one whose output the published bytes are (tried against the original).
/// </remarks>
public sealed class DatasetVerifier
{
    private readonly Keyring _keyring;
    private readonly ProtectionParameters _parameters;
    private readonly IProtectionSpec _spec;
    private readonly ConcurrentDictionary<(int Version, string Label), ClassPatch> _patches = new();

    /// <summary>A verifier for objects protected with <paramref name="keyring"/> and <paramref name="parameters"/>.</summary>
    public DatasetVerifier(Keyring keyring, ProtectionParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(keyring);
        ArgumentNullException.ThrowIfNull(parameters);
        _keyring = keyring;
        _parameters = parameters;
        _spec = ProtectionSpecs.Get(parameters.Spec);
    }

    /// <summary>What was checked and found.</summary>
    public sealed class Result
    {
        private readonly ConcurrentBag<VerifyFinding> _findings = [];

        /// <summary>Published objects looked at.</summary>
        public long Checked;

        /// <summary>Objects whose content was checked against their original.</summary>
        public long ContentChecked;

        /// <summary>Published objects without any metadata (a folder keeps none).</summary>
        public long WithoutMetadata;

        /// <summary>The classes of the objects looked at (known with a label rule).</summary>
        public ConcurrentDictionary<string, byte> Labels { get; } = new(StringComparer.Ordinal);

        /// <summary>Objects found under each key version.</summary>
        public ConcurrentDictionary<int, long> Versions { get; } = new();

        /// <summary>What could not be checked, and why.</summary>
        public List<string> NotChecked { get; } = [];

        /// <summary>Every problem found, ordered by key.</summary>
        public IReadOnlyList<VerifyFinding> Findings => [.. _findings.OrderBy(static f => f.Key, StringComparer.Ordinal).ThenBy(static f => f.Kind, StringComparer.Ordinal)];

        internal void Add(string key, string kind, string detail) => _findings.Add(new VerifyFinding(key, kind, detail));
    }

    /// <summary>Verifies every <c>.wav</c> object of <paramref name="published"/>.</summary>
    /// <param name="published">The published set.</param>
    /// <param name="labels">The label rule the set was protected with; null checks metadata only.</param>
    /// <param name="originals">The originals, or null.</param>
    /// <param name="vault">Restore records to rebuild the originals from, or null.</param>
    /// <param name="concurrency">Objects checked at once.</param>
    /// <param name="cancellationToken">Cancels the run.</param>
    public async Task<Result> VerifyAsync(
        IObjectStore published, LabelRule? labels, IObjectStore? originals, VaultRecords? vault, int concurrency, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(published);
        var result = new Result();
        LabelRule listingRule = labels ?? LabelRule.Parse(Cli.RestoreCommand.DefaultLabels);
        DatasetListing listing = await DatasetListing.ReadAsync(published, listingRule, cancellationToken).ConfigureAwait(false);
        foreach ((string key, string reason) in listing.Unlabelled)
        {
            result.Add(key, "unreadable", $"no label: {reason}");
        }

        if (originals is not null)
        {
            // Every original must have been published.
            var present = new HashSet<string>(listing.Objects.Select(static o => o.Key), StringComparer.Ordinal);
            DatasetListing expected = await DatasetListing.ReadAsync(originals, listingRule, cancellationToken).ConfigureAwait(false);
            foreach (PlannedObject item in expected.Objects)
            {
                if (!present.Contains(item.Key))
                {
                    result.Add(item.Key, "missing", "in the source but not published");
                }
            }
        }
        else if (vault is not null)
        {
            // Every object a restore record names must still be published.
            var present = new HashSet<string>(listing.Objects.Select(static o => o.Key), StringComparer.Ordinal);
            foreach (string key in await vault.KeysAsync().ConfigureAwait(false))
            {
                if (!present.Contains(key))
                {
                    result.Add(key, "missing", "has a restore record but is not published");
                }
            }
        }
        else
        {
            result.NotChecked.Add("missing objects (no --source or --vault: only objects that are published can be checked)");
        }

        if (labels is null)
        {
            result.NotChecked.Add("content (no --labels: the class, and so the patch, of each object is unknown)");
        }
        else if (originals is null && vault is null)
        {
            result.NotChecked.Add("content (no --source or --vault: the originals are unknown, so neither the patch nor the bytes outside it can be compared)");
        }

        await Parallel.ForEachAsync(
            listing.Objects,
            new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, concurrency), CancellationToken = cancellationToken },
            async (item, ct) =>
            {
                Interlocked.Increment(ref result.Checked);
                try
                {
                    await VerifyObjectAsync(result, published, item, labels is null ? null : item.Label, originals, vault, ct).ConfigureAwait(false);
                }
                catch (InvalidObjectException e)
                {
                    result.Add(item.Key, "unreadable", e.Reason);
                }
            }).ConfigureAwait(false);
        if (result.WithoutMetadata > 0)
        {
            result.NotChecked.Add($"metadata of {result.WithoutMetadata} objects (the store keeps none; their version was found from their restore record or original)");
        }

        return result;
    }

    private async Task VerifyObjectAsync(
        Result result, IObjectStore published, PlannedObject item, string? label, IObjectStore? originals, VaultRecords? vault, CancellationToken ct)
    {
        if (label is not null)
        {
            result.Labels.TryAdd(label, 0);
        }

        using ObjectContent content = await published.GetAsync(item.Key, ct).ConfigureAwait(false);
        IReadOnlyDictionary<string, string> metadata = content.Metadata;
        int? declared = null;
        if (metadata.Count > 0)
        {
            declared = CheckMetadata(result, item.Key, metadata);
        }
        else
        {
            Interlocked.Increment(ref result.WithoutMetadata);
        }

        byte[]? original = null;
        if (originals is not null)
        {
            try
            {
                using ObjectContent source = await originals.GetAsync(item.Key, ct).ConfigureAwait(false);
                original = source.Data.ToArray();
            }
            catch (InvalidObjectException e)
            {
                result.Add(item.Key, "no-original", $"not in the source: {e.Reason}");
            }
        }
        else if (vault is not null)
        {
            (RestoreEntry? entry, string? problem) = await vault.FindAsync(item.Key, PublishFence.PublishedJob(metadata), content.Data, ct).ConfigureAwait(false);
            if (entry is null)
            {
                result.Add(item.Key, "modified", $"no restore record was made for these bytes: {problem}");
            }
            else
            {
                original = content.Data.ToArray();
                entry.TryRestore(original);
                if (declared is int d && d != entry.KeyVersion)
                {
                    result.Add(item.Key, "metadata", $"metadata says key version {d}, its restore record says {entry.KeyVersion}");
                }

                declared ??= entry.KeyVersion;
            }
        }

        if (original is null || label is null)
        {
            if (declared is int only)
            {
                result.Versions.AddOrUpdate(only, 1, static (_, n) => n + 1);
                FlagCompromised(result, item.Key, only, metadata.Count == 0);
            }

            return;
        }

        Interlocked.Increment(ref result.ContentChecked);
        if (declared is null)
        {
            // No metadata and no record: the version is the one whose output is closest to the published bytes. Where several
            // give the same output (poscuda-v2 gives a class the same code under two versions 1 time in 70), the object is
            // as much the one as the other: it counts under the newest version not compromised, the one a rekey writes.
            long fewest = long.MaxValue;
            foreach (KeyVersion version in _keyring.Versions.OrderBy(static v => v.State == KeyState.Compromised).ThenByDescending(static v => v.Version))
            {
                long differing = Differing(Expected(original, version.Version, label, item.Key), content.Data.Span);
                if (differing < fewest)
                {
                    fewest = differing;
                    declared = version.Version;
                }
            }

            if (declared is null)
            {
                return;
            }
        }

        int v = declared.Value;
        result.Versions.AddOrUpdate(v, 1, static (_, n) => n + 1);
        FlagCompromised(result, item.Key, v, metadata.Count == 0);
        if (!_keyring.TryGetVersion(v, out _))
        {
            return; // Reported with the metadata.
        }

        byte[] expected = Expected(original, v, label, item.Key);
        ReadOnlySpan<byte> actual = content.Data.Span;
        if (actual.SequenceEqual(expected))
        {
            return;
        }

        foreach (KeyVersion other in _keyring.Versions)
        {
            if (other.Version != v && actual.SequenceEqual(Expected(original, other.Version, label, item.Key)))
            {
                result.Add(item.Key, "metadata", string.Create(
                    CultureInfo.InvariantCulture, $"declares key version {v}, but is the spec's output under version {other.Version}"));
                return;
            }
        }

        if (actual.Length != expected.Length)
        {
            result.Add(item.Key, "outside-patch", $"{actual.Length} bytes published, the original has {expected.Length}");
            return;
        }

        RestoreEntry patch = RestoreEntry.Create(item.Key, Guid.Empty, "", v, _spec.Name, null, original, expected);
        long patchEnd = patch.Offset + patch.Original.Length;
        int first = actual.CommonPrefixLength(expected);
        int last = actual.Length - 1;
        while (actual[last] == expected[last])
        {
            last--;
        }

        bool outside = first < patch.Offset || last >= patchEnd;
        string detail = outside
            ? string.Create(CultureInfo.InvariantCulture, $"bytes outside the patch [{patch.Offset}, {patchEnd}) differ from the original (first at {(first < patch.Offset ? first : last)})")
            : string.Create(CultureInfo.InvariantCulture, $"the patch differs from the spec's output under version {v} (bytes {first}..{last})");
        result.Add(item.Key, outside ? "outside-patch" : "patch", detail);
    }

    private static long Differing(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        if (a.Length != b.Length)
        {
            return long.MaxValue - 1;
        }

        long count = 0;
        for (int i = 0; i < a.Length; i++)
        {
            count += a[i] != b[i] ? 1 : 0;
        }

        return count;
    }

    private int? CheckMetadata(Result result, string key, IReadOnlyDictionary<string, string> metadata)
    {
        if (!metadata.TryGetValue(OutputMetadata.Spec, out string? spec) || spec != _parameters.Spec)
        {
            result.Add(key, "metadata", $"spec is '{spec ?? "(none)"}', expected '{_parameters.Spec}'");
        }

        if (!metadata.TryGetValue(OutputMetadata.KeyId, out string? keyId) || keyId != _keyring.KeyId)
        {
            result.Add(key, "metadata", $"key id is '{keyId ?? "(none)"}', the keyring's is '{_keyring.KeyId}'");
        }

        if (!metadata.TryGetValue(OutputMetadata.KeyVersion, out string? text)
            || !int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int version))
        {
            result.Add(key, "metadata", $"key version is '{text ?? "(none)"}', not a version number");
            return null;
        }

        if (!_keyring.TryGetVersion(version, out _))
        {
            result.Add(key, "metadata", $"declares key version {version}, which the keyring does not hold");
        }

        return version;
    }

    private void FlagCompromised(Result result, string key, int version, bool found)
    {
        if (_keyring.TryGetVersion(version, out KeyVersion? kv) && kv.State == KeyState.Compromised)
        {
            result.Add(key, "compromised", $"{(found ? "is" : "declares it is")} protected under key version {version}, which is compromised: rekey it");
        }
    }

    private byte[] Expected(byte[] original, int version, string label, string key)
    {
        ClassPatch patch = _patches.GetOrAdd((version, label), k => _spec.DeriveClassPatch(_keyring.GetVersion(k.Version).Secret, k.Label, _parameters));
        byte[] copy = (byte[])original.Clone();
        _spec.Protect(copy, patch, _parameters, key);
        return copy;
    }
}
