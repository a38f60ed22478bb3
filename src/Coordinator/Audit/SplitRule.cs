using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using PosCuda.Shared.Labels;

namespace PosCuda.Coordinator.Audit;

/// <summary>Decides which objects of a dataset are test objects: <c>fsdd</c>, <c>csv:PATH</c> or
/// <c>random:SEED[:FRACTION][:by=REGEX]</c>.</summary>
public abstract partial class SplitRule
{
    private protected SplitRule(string text)
    {
        Text = text;
    }

    /// <summary>The rule as given.</summary>
    public string Text { get; }

    /// <summary>Whether the object at <paramref name="key"/> belongs to the test split.</summary>
    /// <exception cref="ArgumentException">The rule cannot place the key (a CSV without it, a name FSDD's rule cannot read).</exception>
    public abstract bool IsTest(string key);

    /// <summary>The default: <c>fsdd</c> when every key reads as an FSDD name, else <c>random:1:0.2</c>.</summary>
    public static SplitRule Default(IEnumerable<string> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        return keys.All(FsddSplit.Matches) ? new FsddSplit() : Parse("random:1:0.2");
    }

    /// <summary>Parses a rule.</summary>
    /// <exception cref="ArgumentException">It is malformed; the message says how.</exception>
    public static SplitRule Parse(string rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        if (rule == "fsdd")
        {
            return new FsddSplit();
        }

        if (rule.StartsWith("csv:", StringComparison.Ordinal))
        {
            return CsvSplit.Load(rule, rule["csv:".Length..]);
        }

        if (rule.StartsWith("random:", StringComparison.Ordinal))
        {
            return RandomSplit.Create(rule);
        }

        throw new ArgumentException($"Unknown split rule '{rule}': use 'fsdd', 'csv:PATH' or 'random:SEED[:FRACTION][:by=REGEX]'.", nameof(rule));
    }

    /// <inheritdoc/>
    public override string ToString() => Text;

    /// <summary>FSDD's official split: <c>{digit}_{speaker}_{index}.wav</c>, index 0-4 is test.</summary>
    private sealed partial class FsddSplit : SplitRule
    {
        public FsddSplit()
            : base("fsdd")
        {
        }

        public static bool Matches(string key) => Name().IsMatch(FileName(key));

        public override bool IsTest(string key)
        {
            Match match = Name().Match(FileName(key));
            if (!match.Success)
            {
                throw new ArgumentException($"'{key}' is not an FSDD name ({{digit}}_{{speaker}}_{{index}}.wav).", nameof(key));
            }

            return int.TryParse(match.Groups["index"].ValueSpan, out int index) && index <= 4;
        }

        private static string FileName(string key) => key[(key.LastIndexOf('/') + 1)..];

        [GeneratedRegex(@"^\d+_[^_]+_(?<index>\d+)\.wav$", RegexOptions.IgnoreCase)]
        private static partial Regex Name();
    }

    /// <summary>A CSV of <c>key,split</c> rows, split <c>train</c> or <c>test</c>, read as the CSV label rule reads
    /// <c>key,label</c> (fields as written, quotes as in RFC 4180; a <c>key,split</c> header reads as a row for the key
    /// "key", which no object has).</summary>
    private sealed class CsvSplit : SplitRule
    {
        private readonly LabelRule _rows;

        private CsvSplit(string text, LabelRule rows)
            : base(text)
        {
            _rows = rows;
        }

        public static CsvSplit Load(string text, string path) => new(text, LabelRule.Parse("csv:" + path));

        public override bool IsTest(string key) => _rows.Resolve(key, out _) switch
        {
            "test" => true,
            "train" => false,
            null => throw new ArgumentException($"'{key}' is not in the split CSV.", nameof(key)),
            string other => throw new ArgumentException($"The split of '{key}' must be 'train' or 'test', not '{other}'.", nameof(key)),
        };
    }

    /// <summary>A seeded random split, by object or by a group a regex finds in the key.</summary>
    private sealed class RandomSplit : SplitRule
    {
        private readonly int _seed;
        private readonly double _fraction;
        private readonly Regex? _group;

        private RandomSplit(string text, int seed, double fraction, Regex? group)
            : base(text)
        {
            _seed = seed;
            _fraction = fraction;
            _group = group;
        }

        public static RandomSplit Create(string rule)
        {
            string rest = rule["random:".Length..];
            Regex? group = null;
            int by = rest.IndexOf(":by=", StringComparison.Ordinal);
            if (by >= 0)
            {
                try
                {
                    group = new Regex(rest[(by + ":by=".Length)..], RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
                }
                catch (ArgumentException e)
                {
                    throw new ArgumentException($"Split rule '{rule}': bad regex: {e.Message}", nameof(rule), e);
                }

                rest = rest[..by];
            }

            string[] parts = rest.Split(':');
            if (parts.Length is < 1 or > 2 || !int.TryParse(parts[0], out int seed))
            {
                throw new ArgumentException($"Split rule '{rule}': expected random:SEED[:FRACTION][:by=REGEX].", nameof(rule));
            }

            double fraction = 0.2;
            if (parts.Length == 2 && (!double.TryParse(parts[1], System.Globalization.CultureInfo.InvariantCulture, out fraction) || fraction is <= 0 or >= 1))
            {
                throw new ArgumentException($"Split rule '{rule}': FRACTION must be a number in (0, 1).", nameof(rule));
            }

            return new RandomSplit(rule, seed, fraction, group);
        }

        public override bool IsTest(string key)
        {
            string unit = key;
            if (_group is not null)
            {
                // The group is the regex's named group 'group', else its first group, else the whole match.
                Match match = _group.Match(key);
                if (!match.Success)
                {
                    throw new ArgumentException($"'{key}' does not match the split's grouping regex.", nameof(key));
                }

                Group named = match.Groups["group"];
                unit = named.Success ? named.Value : match.Groups.Count > 1 ? match.Groups[1].Value : match.Value;
            }

            return Uniform(_seed, unit) < _fraction;
        }

        private static double Uniform(int seed, string unit)
        {
            byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes(FormattableString.Invariant($"poscuda/split/{seed}/{unit}")));
            return (BinaryPrimitives.ReadUInt64LittleEndian(hash) >> 11) * (1.0 / (1UL << 53));
        }
    }
}
