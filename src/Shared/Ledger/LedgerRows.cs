using System.Data.Common;
using PosCuda.Shared.Protection;

namespace PosCuda.Shared.Ledger;

/// <summary>Reads a timestamp column the way one database stores it.</summary>
internal delegate DateTimeOffset TimeColumn(DbDataReader reader, int ordinal);

/// <summary>The rows both ledgers read alike: a job (<see cref="JobColumns"/>) and an object (<see cref="ObjectColumns"/>).</summary>
/// <remarks>
/// Only timestamps differ between the databases (PostgreSQL <c>timestamptz</c>, SQLite Unix milliseconds), so each
/// ledger passes its <see cref="TimeColumn"/>. Job ids read with <see cref="DbDataReader.GetGuid"/> in both: a
/// PostgreSQL <c>uuid</c>, or the text form SQLite keeps.
/// </remarks>
internal static class LedgerRows
{
    /// <summary>The columns <see cref="ReadJob"/> reads, in order.</summary>
    public const string JobColumns =
        "job_id, state, source, destination, label_rule, spec, taps, patch_length, blur, window_length, mode, "
        + "key_id, key_version, max_attempts, trace_parent, created_at, finished_at, spec_options, operation";

    /// <summary>The columns <see cref="ReadObject"/> reads, in order.</summary>
    public const string ObjectColumns =
        "object_id, key, label, status, reason, key_version, source_etag, output_etag, bytes, clipped, completed_at";

    /// <summary>PostgreSQL's timestamps.</summary>
    public static readonly TimeColumn PostgresTime = static (reader, ordinal) => reader.GetFieldValue<DateTimeOffset>(ordinal);

    /// <summary>SQLite's timestamps: Unix milliseconds.</summary>
    public static readonly TimeColumn SqliteTime = static (reader, ordinal) => DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(ordinal));

    public static JobRecord ReadJob(DbDataReader reader, TimeColumn time)
    {
        var parameters = new ProtectionParameters(
            taps: reader.GetInt32(6),
            patchLength: reader.GetInt32(7),
            blur: reader.GetDouble(8),
            window: reader.GetInt32(9),
            mode: LedgerText.ParseMode(reader.GetString(10)),
            spec: reader.GetString(5),
            code: SpectralCodeParameters.Parse(reader.GetString(17)));
        var definition = new JobDefinition(
            reader.GetString(2),
            reader.GetString(3),
            reader.GetString(4),
            parameters,
            reader.GetString(11),
            reader.GetInt32(12),
            reader.GetInt32(13),
            reader.IsDBNull(14) ? null : reader.GetString(14),
            JobOperation.Parse(reader.GetString(18)));
        return new JobRecord(
            reader.GetGuid(0),
            definition,
            LedgerText.ParseJobState(reader.GetString(1)),
            time(reader, 15),
            reader.IsDBNull(16) ? null : time(reader, 16));
    }

    public static ObjectRecord ReadObject(DbDataReader reader, TimeColumn time) => new(
        reader.GetInt64(0),
        reader.GetString(1),
        reader.GetString(2),
        LedgerText.ParseOutcome(reader.GetString(3)),
        reader.IsDBNull(4) ? null : reader.GetString(4),
        reader.IsDBNull(5) ? null : reader.GetInt32(5),
        reader.IsDBNull(6) ? null : reader.GetString(6),
        reader.IsDBNull(7) ? null : reader.GetString(7),
        reader.GetInt64(8),
        reader.GetInt64(9),
        reader.IsDBNull(10) ? null : time(reader, 10));
}
