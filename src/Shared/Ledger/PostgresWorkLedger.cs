using System.Data;
using System.Data.Common;
using System.Net.Sockets;
using Npgsql;
using NpgsqlTypes;

namespace PosCuda.Shared.Ledger;

/// <summary>The work ledger in PostgreSQL, for many worker processes on many nodes.</summary>
/// <remarks>
/// Claims are one statement over partial indexes (<c>FOR UPDATE SKIP LOCKED</c>); every lease time comes from the
/// server's clock; every write after a claim is fenced by the lease token. Connections come from one pooled
/// <see cref="NpgsqlDataSource"/>; no transaction stays open between calls.
/// </remarks>
public sealed class PostgresWorkLedger : SqlWorkLedger
{
    private const string ClaimTail = """
        ORDER BY batch_id
            LIMIT 1
            FOR UPDATE SKIP LOCKED),
        claimed AS (
            UPDATE batches b
            SET state = 'leased', attempts = b.attempts + 1, lease_token = @token, lease_owner = @worker,
                lease_expires_at = now() + @duration
            FROM next
            WHERE b.batch_id = next.batch_id
            RETURNING b.batch_id, b.job_id, b.label, b.attempts, b.lease_expires_at)
        SELECT c.batch_id, c.job_id, c.label, c.attempts, c.lease_expires_at, o.object_id, o.key, o.size, o.source_etag
        FROM claimed c
        LEFT JOIN objects o ON o.batch_id = c.batch_id AND o.status = 'pending'
        ORDER BY o.key
        """;

    /// <summary>Claims the oldest pending batch of any job and returns it with its pending objects.</summary>
    internal const string ClaimAnySql = """
        WITH next AS MATERIALIZED (
            SELECT batch_id FROM batches
            WHERE state = 'pending'
        """ + "\n    " + ClaimTail;

    /// <summary>Claims the oldest pending batch of class <c>@label</c> of job <c>@job</c> (what a class shard hands out).</summary>
    internal const string ClaimClassSql = """
        WITH next AS MATERIALIZED (
            SELECT batch_id FROM batches
            WHERE state = 'pending' AND job_id = @job AND label = @label
        """ + "\n    " + ClaimTail;

    /// <summary>Claims the oldest pending batch of job <c>@job</c> and returns it with its pending objects.</summary>
    internal const string ClaimJobSql = """
        WITH next AS MATERIALIZED (
            SELECT batch_id FROM batches
            WHERE state = 'pending' AND job_id = @job
        """ + "\n    " + ClaimTail;

    private const string CompleteObjectsSql = """
        UPDATE objects o
        SET status = r.status, reason = r.reason, key_version = r.key_version,
            source_etag = COALESCE(r.source_etag, o.source_etag), output_etag = r.output_etag,
            bytes = r.bytes, clipped = r.clipped, completed_at = now()
        FROM unnest(@ids, @statuses, @reasons, @versions, @source_etags, @output_etags, @bytes, @clipped)
            AS r(object_id, status, reason, key_version, source_etag, output_etag, bytes, clipped)
        WHERE o.object_id = r.object_id AND o.batch_id = @batch AND o.status = 'pending'
        """;

    private const string GrowBatchesSql = """
        UPDATE batches b SET object_count = b.object_count + r.n
        FROM unnest(@ids, @counts) AS r(batch_id, n) WHERE b.batch_id = r.batch_id
        """;

    private const string InsertBatchesSql = """
        INSERT INTO batches (batch_id, job_id, label, state, object_count)
        SELECT r.batch_id, @job, r.label, 'planned', r.n FROM unnest(@ids, @labels, @counts) AS r(batch_id, label, n)
        """;

    private const string CopyObjectsSql = "COPY objects (job_id, batch_id, key, label, size, source_etag) FROM STDIN (FORMAT BINARY)";

    private const string InsertOutcomesSql = """
        INSERT INTO objects (job_id, key, label, size, status, reason, completed_at)
        SELECT @job, r.key, '', 0, r.status, r.reason, now() FROM unnest(@keys, @statuses, @reasons) AS r(key, status, reason)
        """;

    private static readonly LedgerSql s_sql = new()
    {
        MigrationLock = $"SELECT pg_advisory_xact_lock({PostgresSchema.MigrationLockKey})",
        Bootstrap = PostgresSchema.Bootstrap,
        Migrations = PostgresSchema.Migrations,
        CreateJob = """
            INSERT INTO jobs (job_id, state, source, destination, label_rule, spec, taps, patch_length, blur,
                window_length, mode, spec_options, key_id, key_version, max_attempts, trace_parent, operation)
            VALUES (@job, 'planning', @source, @destination, @rule, @spec, @taps, @patch, @blur,
                @window, @mode, @spec_options, @key_id, @key_version, @max_attempts, @trace_parent, @operation)
            """,

        // Planning calls of one job (from any node) queue on its row.
        PlanningState = "SELECT state FROM jobs WHERE job_id = @job FOR UPDATE",
        // Rows another claim holds are skipped, as the claim itself skips them.
        MergeCandidates = """
            SELECT b.batch_id, b.object_count,
                (SELECT COALESCE(sum(octet_length(o.key)), 0) FROM objects o WHERE o.batch_id = b.batch_id)::bigint
            FROM batches b
            WHERE b.state = 'pending' AND b.job_id = @job AND b.label = @label AND b.attempts = 0 AND b.batch_id <> @batch
            ORDER BY b.batch_id LIMIT 256
            FOR UPDATE OF b SKIP LOCKED
            """,
        OpenBatches = """
            SELECT DISTINCT ON (label) label, batch_id, object_count FROM batches
            WHERE job_id = @job AND state = 'planned' ORDER BY label, batch_id DESC
            """,
        StartJob = "UPDATE jobs SET state = 'running', started_at = now() WHERE job_id = @job",
        ListJobs = $"SELECT {LedgerRows.JobColumns} FROM jobs ORDER BY created_at DESC, job_id DESC",
        FindJob = SameDefinitionSql + " ORDER BY created_at DESC, job_id DESC LIMIT 1",
        Heartbeat = """
            UPDATE batches SET lease_expires_at = now() + @duration
            WHERE batch_id = @batch AND lease_token = @token AND state = 'leased'
            RETURNING lease_expires_at
            """,
        FenceBatch = """
            UPDATE batches SET state = 'done', completed_at = now(), lease_token = NULL, lease_expires_at = NULL
            WHERE batch_id = @batch AND lease_token = @token AND state = 'leased'
            """,
        FailLeftovers = """
            UPDATE objects SET status = 'failed', reason = 'the batch was completed without a result for this object',
                completed_at = now()
            WHERE batch_id = @batch AND status = 'pending'
            """,
        ReleaseVoluntary = """
            UPDATE batches SET state = 'pending', attempts = GREATEST(attempts - 1, 0),
                lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL
            WHERE batch_id = @batch AND lease_token = @token AND state = 'leased'
            RETURNING state, attempts
            """,
        ReleaseWithError = """
            UPDATE batches b
            SET state = CASE WHEN b.attempts >= j.max_attempts THEN 'dead' ELSE 'pending' END,
                last_error = @error, lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL,
                completed_at = CASE WHEN b.attempts >= j.max_attempts THEN now() END
            FROM jobs j
            WHERE j.job_id = b.job_id AND b.batch_id = @batch AND b.lease_token = @token AND b.state = 'leased'
            RETURNING b.state, b.attempts
            """,
        KillObjects = """
            UPDATE objects SET status = 'dead', reason = @reason, completed_at = now()
            WHERE batch_id = @batch AND status = 'pending'
            """,

        // Two coordinators never rescue the same batch: each skips the rows the other has locked.
        RescueExpired = """
            WITH expired AS MATERIALIZED (
                SELECT batch_id FROM batches
                WHERE state = 'leased' AND lease_expires_at < now()
                FOR UPDATE SKIP LOCKED)
            UPDATE batches b
            SET state = CASE WHEN b.attempts >= j.max_attempts THEN 'dead' ELSE 'pending' END,
                last_error = CASE WHEN b.attempts >= j.max_attempts
                    THEN 'lease expired ' || b.attempts || ' times (worker crashed?)'
                    ELSE 'lease expired on attempt ' || b.attempts || ' (worker crashed?)' END,
                lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL,
                completed_at = CASE WHEN b.attempts >= j.max_attempts THEN now() END
            FROM expired e, jobs j
            WHERE b.batch_id = e.batch_id AND j.job_id = b.job_id
            RETURNING b.batch_id, b.state, b.attempts, b.last_error
            """,
        ResetLeases = """
            UPDATE batches SET state = 'pending', attempts = GREATEST(attempts - 1, 0),
                lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL
            WHERE job_id = @job AND state = 'leased'
            """,
        FindFinishedJobs = """
            SELECT j.job_id FROM jobs j
            WHERE j.state = 'running'
                AND NOT EXISTS (SELECT 1 FROM batches b WHERE b.job_id = j.job_id AND b.state NOT IN ('done', 'dead'))
            ORDER BY j.created_at
            """,
        CompleteJob = """
            UPDATE jobs j SET state = 'completed', finished_at = now()
            WHERE j.job_id = @job AND j.state = 'running'
                AND NOT EXISTS (SELECT 1 FROM batches b WHERE b.job_id = j.job_id AND b.state NOT IN ('done', 'dead'))
            """,
        ClassObjects = """
            SELECT label, count(*),
                count(*) FILTER (WHERE status = 'done'),
                count(*) FILTER (WHERE status = 'failed'),
                count(*) FILTER (WHERE status = 'dead'),
                COALESCE(sum(clipped) FILTER (WHERE status = 'done'), 0)::bigint,
                COALESCE(sum(bytes) FILTER (WHERE status = 'done'), 0)::bigint,
                count(*) FILTER (WHERE status IN ('done', 'failed') AND completed_at > now() - interval '60 seconds'),
                COALESCE(sum(bytes) FILTER (WHERE status = 'done' AND completed_at > now() - interval '60 seconds'), 0)::bigint
            FROM objects WHERE job_id = @job AND batch_id IS NOT NULL GROUP BY label
            """,
        ClassBatches = """
            SELECT label,
                (count(*) FILTER (WHERE state IN ('planned', 'pending')))::int,
                (count(*) FILTER (WHERE state = 'leased'))::int,
                (count(*) FILTER (WHERE state = 'done'))::int,
                (count(*) FILTER (WHERE state = 'dead'))::int,
                COALESCE(sum(GREATEST(attempts - 1, 0)), 0)::int,
                (count(*) FILTER (WHERE state = 'pending'))::int
            FROM batches WHERE job_id = @job GROUP BY label
            """,
    };

    private readonly NpgsqlDataSource _dataSource;
    private readonly string _description;
    private readonly string? _password;

    /// <summary>Opens a ledger over an Npgsql connection string (<c>Host=...;Database=...</c>); nothing connects until first use.</summary>
    public PostgresWorkLedger(string connectionString)
        : this(ParseConnectionString(connectionString))
    {
    }

    internal PostgresWorkLedger(NpgsqlConnectionStringBuilder builder)
        : base(s_sql, LedgerRows.PostgresTime)
    {
        ArgumentNullException.ThrowIfNull(builder);
        if (string.IsNullOrEmpty(builder.ApplicationName))
        {
            builder.ApplicationName = "poscuda";
        }

        _description = LedgerLocation.Describe(builder);
        _password = string.IsNullOrEmpty(builder.Password) ? null : builder.Password;
        _dataSource = NpgsqlDataSource.Create(builder);
    }

    /// <inheritdoc />
    public override string Describe() => _description;

    /// <inheritdoc />
    public override ValueTask DisposeAsync() => _dataSource.DisposeAsync();

    private protected override async ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken) =>
        await _dataSource.OpenConnectionAsync(cancellationToken);

    // The server queues writers on row locks; this process adds no gate.
    private protected override ValueTask<IDisposable?> EnterWriteAsync(CancellationToken cancellationToken) => ValueTask.FromResult<IDisposable?>(null);

    // One statement is atomic on its own: no BEGIN/COMMIT round trip for it.
    private protected override async ValueTask<DbTransaction?> BeginWriteAsync(DbConnection connection, bool atomic, CancellationToken cancellationToken) =>
        atomic ? await connection.BeginTransactionAsync(cancellationToken) : null;

    private protected override async ValueTask<DbTransaction> BeginSnapshotAsync(DbConnection connection, CancellationToken cancellationToken) =>
        await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken);

    private protected override object Id(Guid id) => id;

    private protected override object Duration(TimeSpan duration) => duration;

    // One statement claims the batch and returns it joined with its pending objects (a batch row with no object: a left join's nulls).
    private protected override async Task<ClaimedBatch?> ClaimAsync(
        DbConnection connection, DbTransaction? transaction, string workerId, TimeSpan duration, Guid? jobId, string? label, Guid token, CancellationToken ct)
    {
        ClaimedBatch? claimed = null;
        await using var command = Command(connection, transaction, jobId is null ? ClaimAnySql : label is null ? ClaimJobSql : ClaimClassSql)
            .With("@token", token).With("@worker", workerId).With("@duration", duration);
        if (jobId is { } id)
        {
            command.With("@job", id);
        }

        if (label is not null)
        {
            command.With("@label", label);
        }

        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            claimed ??= new ClaimedBatch(
                reader.GetInt64(0), reader.GetGuid(1), reader.GetString(2), reader.GetInt32(3), reader.GetFieldValue<DateTimeOffset>(4), []);
            if (!reader.IsDBNull(5))
            {
                claimed.Objects.Add(new BatchObject(
                    reader.GetInt64(5), reader.GetString(6), reader.GetInt64(7), reader.IsDBNull(8) ? null : reader.GetString(8)));
            }
        }

        return claimed;
    }

    // Batch ids come from the sequence in one round trip, batches go in over arrays, objects by binary COPY.
    private protected override async Task InsertPlannedAsync(
        DbConnection connection, DbTransaction transaction, Guid jobId, IReadOnlyList<BatchPlanner.Chunk> chunks, CancellationToken ct)
    {
        var npgsql = (NpgsqlConnection)connection;
        var ids = await AllocateBatchIdsAsync(connection, transaction, BatchPlanner.NewBatches(chunks), ct);
        var batchIds = new long[chunks.Count];
        var insertLabels = new List<string>(ids.Length);
        var insertCounts = new List<int>(ids.Length);
        var growIds = new List<long>();
        var growCounts = new List<int>();
        var next = 0;
        for (var i = 0; i < chunks.Count; i++)
        {
            var chunk = chunks[i];
            if (chunk.ExistingBatchId is { } existing)
            {
                batchIds[i] = existing;
                growIds.Add(existing);
                growCounts.Add(chunk.Objects.Count);
            }
            else
            {
                batchIds[i] = ids[next++];
                insertLabels.Add(chunk.Label);
                insertCounts.Add(chunk.Objects.Count);
            }
        }

        if (growIds.Count > 0)
        {
            await using var command = Command(connection, transaction, GrowBatchesSql).With("@ids", growIds.ToArray()).With("@counts", growCounts.ToArray());
            await command.ExecuteNonQueryAsync(ct);
        }

        if (ids.Length > 0)
        {
            await using var command = Command(connection, transaction, InsertBatchesSql)
                .With("@job", jobId).With("@ids", ids).With("@labels", insertLabels.ToArray()).With("@counts", insertCounts.ToArray());
            await command.ExecuteNonQueryAsync(ct);
        }

        await using var importer = await npgsql.BeginBinaryImportAsync(CopyObjectsSql, ct);
        for (var i = 0; i < chunks.Count; i++)
        {
            foreach (var item in chunks[i].Objects)
            {
                await importer.StartRowAsync(ct);
                await importer.WriteAsync(jobId, NpgsqlDbType.Uuid, ct);
                await importer.WriteAsync(batchIds[i], NpgsqlDbType.Bigint, ct);
                await importer.WriteAsync(item.Key, NpgsqlDbType.Text, ct);
                await importer.WriteAsync(item.Label, NpgsqlDbType.Text, ct);
                await importer.WriteAsync(item.Size, NpgsqlDbType.Bigint, ct);
                if (item.SourceETag is null)
                {
                    await importer.WriteNullAsync(ct);
                }
                else
                {
                    await importer.WriteAsync(item.SourceETag, NpgsqlDbType.Text, ct);
                }
            }
        }

        await importer.CompleteAsync(ct);
    }

    private protected override async Task InsertOutcomesAsync(
        DbConnection connection, DbTransaction transaction, Guid jobId, IReadOnlyList<PlanningOutcome> outcomes, CancellationToken ct)
    {
        var keys = new string[outcomes.Count];
        var statuses = new string[outcomes.Count];
        var reasons = new string[outcomes.Count];
        for (var i = 0; i < outcomes.Count; i++)
        {
            keys[i] = outcomes[i].Key;
            statuses[i] = LedgerText.ToText(outcomes[i].Outcome);
            reasons[i] = LedgerText.Truncate(outcomes[i].Reason ?? string.Empty);
        }

        await using var command = Command(connection, transaction, InsertOutcomesSql)
            .With("@job", jobId).With("@keys", keys).With("@statuses", statuses).With("@reasons", reasons);
        await command.ExecuteNonQueryAsync(ct);
    }

    private protected override async Task<int> UpdateResultsAsync(
        DbConnection connection, DbTransaction transaction, long batchId, IReadOnlyList<ObjectResult> results, CancellationToken ct)
    {
        var ids = new long[results.Count];
        var statuses = new string[results.Count];
        var reasons = new string?[results.Count];
        var versions = new int[results.Count];
        var sourceETags = new string?[results.Count];
        var outputETags = new string?[results.Count];
        var bytes = new long[results.Count];
        var clipped = new long[results.Count];
        for (var i = 0; i < results.Count; i++)
        {
            var result = results[i];
            ids[i] = result.ObjectId;
            statuses[i] = LedgerText.ToText(result.Outcome);
            reasons[i] = result.Reason is null ? null : LedgerText.Truncate(result.Reason);
            versions[i] = result.KeyVersion;
            sourceETags[i] = result.SourceETag;
            outputETags[i] = result.OutputETag;
            bytes[i] = result.Bytes;
            clipped[i] = result.ClippedSamples;
        }

        await using var command = new NpgsqlCommand(CompleteObjectsSql, (NpgsqlConnection)connection, (NpgsqlTransaction)transaction);
        command.Parameters.AddWithValue("batch", batchId);
        command.Parameters.AddWithValue("ids", ids);
        command.Parameters.AddWithValue("statuses", NpgsqlDbType.Array | NpgsqlDbType.Text, statuses);
        command.Parameters.AddWithValue("reasons", NpgsqlDbType.Array | NpgsqlDbType.Text, reasons);
        command.Parameters.AddWithValue("versions", versions);
        command.Parameters.AddWithValue("source_etags", NpgsqlDbType.Array | NpgsqlDbType.Text, sourceETags);
        command.Parameters.AddWithValue("output_etags", NpgsqlDbType.Array | NpgsqlDbType.Text, outputETags);
        command.Parameters.AddWithValue("bytes", bytes);
        command.Parameters.AddWithValue("clipped", clipped);
        return await command.ExecuteNonQueryAsync(ct);
    }

    private protected override PosCudaException Translate(string operation, DbException exception)
    {
        var transient = exception is NpgsqlException npgsql && IsTransient(npgsql);
        if (transient && IsConnectionLoss((NpgsqlException)exception))
        {
            // Every idle connection died with the server: drop them so the next call opens fresh ones.
            _dataSource.Clear();
        }

        var detail = exception is PostgresException pg ? $"{pg.SqlState}: {pg.MessageText}" : exception.Message;
        if (_password is not null)
        {
            detail = detail.Replace(_password, "***", StringComparison.Ordinal);
        }

        return new PosCudaException($"The work ledger at {_description} could not {operation}: {detail}", transient, exception);
    }

    private static NpgsqlConnectionStringBuilder ParseConnectionString(string connectionString)
    {
        ArgumentException.ThrowIfNullOrEmpty(connectionString);
        try
        {
            return new NpgsqlConnectionStringBuilder(connectionString);
        }
        catch (ArgumentException)
        {
            // The parser's message may quote the string, password included.
            throw new ArgumentException("The PostgreSQL connection string cannot be parsed.", nameof(connectionString));
        }
    }

    private static async Task<long[]> AllocateBatchIdsAsync(DbConnection connection, DbTransaction transaction, int count, CancellationToken ct)
    {
        var ids = new long[count];
        if (count == 0)
        {
            return ids;
        }

        await using var command = Command(connection, transaction, "SELECT nextval(pg_get_serial_sequence('batches', 'batch_id')) FROM generate_series(1, @n)")
            .With("@n", count);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var i = 0;
        while (await reader.ReadAsync(ct))
        {
            ids[i++] = reader.GetInt64(0);
        }

        // Ascending ids keep batches claimed in plan order (label, then key).
        Array.Sort(ids);
        return ids;
    }

    private static bool IsTransient(NpgsqlException e) =>
        e.IsTransient
        || e.InnerException is IOException or SocketException or TimeoutException
        || (e is PostgresException pg && (pg.SqlState is "57P01" or "57P02" or "57P03" or "40001" or "40P01" or "53300"
            || pg.SqlState.StartsWith("08", StringComparison.Ordinal)));

    private static bool IsConnectionLoss(NpgsqlException e) =>
        e is not PostgresException pg
        || pg.SqlState is "57P01" or "57P02" or "57P03"
        || pg.SqlState.StartsWith("08", StringComparison.Ordinal);
}
