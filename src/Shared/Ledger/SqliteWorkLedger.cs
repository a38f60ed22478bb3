using System.Data.Common;
using System.Globalization;
using Microsoft.Data.Sqlite;

namespace PosCuda.Shared.Ledger;

/// <summary>The work ledger in an embedded SQLite file, for one process with many worker threads on one machine.</summary>
/// <remarks>
/// WAL journal, <c>synchronous=NORMAL</c>, a busy timeout, one pooled connection per operation and every write in a
/// <c>BEGIN IMMEDIATE</c> transaction behind this process's write gate, so writers queue instead of failing on a lock
/// upgrade. Times are the database's clock in Unix milliseconds.
/// </remarks>
public sealed class SqliteWorkLedger : SqlWorkLedger
{
    private const string Now = SqliteSchema.Now;

    private const string MaxAttempts = "(SELECT j.max_attempts FROM jobs j WHERE j.job_id = batches.job_id)";

    private const string ConnectionPragmas = "PRAGMA busy_timeout = 30000; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;";

    private const string ClaimHead = $"""
        UPDATE batches
        SET state = 'leased', attempts = attempts + 1, lease_token = @token, lease_owner = @worker,
            lease_expires_at = {Now} + @duration
        WHERE batch_id = (SELECT batch_id FROM batches WHERE state = 'pending'
        """;

    private const string ClaimTail = """
         ORDER BY batch_id LIMIT 1)
        RETURNING batch_id, job_id, label, attempts, lease_expires_at
        """;

    private const string ClaimAnySql = ClaimHead + ClaimTail;

    private const string ClaimJobSql = ClaimHead + " AND job_id = @job" + ClaimTail;

    private const string ClaimClassSql = ClaimHead + " AND job_id = @job AND label = @label" + ClaimTail;

    // The write transaction holds the database lock: no row lock to take.
    private const string MergeCandidatesSql = """
        SELECT b.batch_id, b.object_count,
            (SELECT coalesce(sum(length(CAST(o.key AS BLOB))), 0) FROM objects o WHERE o.batch_id = b.batch_id)
        FROM batches b
        WHERE b.state = 'pending' AND b.job_id = @job AND b.label = @label AND b.attempts = 0 AND b.batch_id <> @batch
        ORDER BY b.batch_id LIMIT 256
        """;

    // Every result in one statement over a JSON array ([id, status, reason, key version, source etag,
    // output etag, bytes, clipped] per object), as the PostgreSQL ledger does with arrays. The unary + keeps
    // the planner off the batch index: with it, SQLite scans the batch and re-reads the whole array per object
    // (quadratic); without it, it reads the array once and finds each object by its rowid.
    internal const string CompleteObjectsSql = $"""
        UPDATE objects SET status = r.status, reason = r.reason, key_version = r.key_version,
            source_etag = COALESCE(r.source_etag, objects.source_etag), output_etag = r.output_etag,
            bytes = r.bytes, clipped = r.clipped, completed_at = {Now}
        FROM (SELECT value ->> 0 AS id, value ->> 1 AS status, value ->> 2 AS reason, value ->> 3 AS key_version,
                value ->> 4 AS source_etag, value ->> 5 AS output_etag, value ->> 6 AS bytes, value ->> 7 AS clipped
              FROM json_each(@rows)) AS r
        WHERE objects.object_id = r.id AND +objects.batch_id = @batch AND objects.status = 'pending'
        """;

    // Planned objects and planning outcomes go in with one statement each over a JSON array: one bind and one step
    // instead of a bind per column and a step per object.
    private const string InsertObjectsSql = """
        INSERT INTO objects (job_id, batch_id, key, label, size, source_etag)
        SELECT @job, value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4 FROM json_each(@rows)
        """;

    private const string InsertOutcomesSql = $"""
        INSERT INTO objects (job_id, key, label, size, status, reason, completed_at)
        SELECT @job, value ->> 0, '', 0, value ->> 1, value ->> 2, {Now} FROM json_each(@rows)
        """;

    private static readonly LedgerSql s_sql = new()
    {
        // BEGIN IMMEDIATE already gives a migration run the database's one write lock.
        MigrationLock = null,
        Bootstrap = SqliteSchema.Bootstrap,
        Migrations = SqliteSchema.Migrations,
        CreateJob = $"""
            INSERT INTO jobs (job_id, state, source, destination, label_rule, spec, taps, patch_length, blur,
                window_length, mode, spec_options, key_id, key_version, max_attempts, trace_parent, operation, created_at)
            VALUES (@job, 'planning', @source, @destination, @rule, @spec, @taps, @patch, @blur,
                @window, @mode, @spec_options, @key_id, @key_version, @max_attempts, @trace_parent, @operation, {Now})
            """,

        // The write transaction holds the database lock: no row lock to take.
        PlanningState = "SELECT state FROM jobs WHERE job_id = @job",

        // SQLite returns the other columns of the row that holds max(batch_id): each class's newest planned batch.
        MergeCandidates = MergeCandidatesSql,
        OpenBatches = "SELECT label, max(batch_id), object_count FROM batches WHERE job_id = @job AND state = 'planned' GROUP BY label",
        StartJob = $"UPDATE jobs SET state = 'running', started_at = {Now} WHERE job_id = @job",
        ListJobs = $"SELECT {LedgerRows.JobColumns} FROM jobs ORDER BY created_at DESC, rowid DESC",
        FindJob = SameDefinitionSql + " ORDER BY created_at DESC, rowid DESC LIMIT 1",
        Heartbeat = $"""
            UPDATE batches SET lease_expires_at = {Now} + @duration
            WHERE batch_id = @batch AND lease_token = @token AND state = 'leased'
            RETURNING lease_expires_at
            """,
        FenceBatch = $"""
            UPDATE batches SET state = 'done', completed_at = {Now}, lease_token = NULL, lease_expires_at = NULL
            WHERE batch_id = @batch AND lease_token = @token AND state = 'leased'
            """,
        FailLeftovers = $"""
            UPDATE objects SET status = 'failed', reason = 'the batch was completed without a result for this object',
                completed_at = {Now}
            WHERE batch_id = @batch AND status = 'pending'
            """,
        ReleaseVoluntary = """
            UPDATE batches SET state = 'pending', attempts = max(attempts - 1, 0),
                lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL
            WHERE batch_id = @batch AND lease_token = @token AND state = 'leased'
            RETURNING state, attempts
            """,
        ReleaseWithError = $"""
            UPDATE batches
            SET state = CASE WHEN attempts >= {MaxAttempts} THEN 'dead' ELSE 'pending' END,
                completed_at = CASE WHEN attempts >= {MaxAttempts} THEN {Now} END,
                last_error = @error, lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL
            WHERE batch_id = @batch AND lease_token = @token AND state = 'leased'
            RETURNING state, attempts
            """,
        KillObjects = $"""
            UPDATE objects SET status = 'dead', reason = @reason, completed_at = {Now}
            WHERE batch_id = @batch AND status = 'pending'
            """,
        RescueExpired = $"""
            UPDATE batches
            SET state = CASE WHEN attempts >= {MaxAttempts} THEN 'dead' ELSE 'pending' END,
                completed_at = CASE WHEN attempts >= {MaxAttempts} THEN {Now} END,
                last_error = CASE WHEN attempts >= {MaxAttempts}
                    THEN 'lease expired ' || attempts || ' times (worker crashed?)'
                    ELSE 'lease expired on attempt ' || attempts || ' (worker crashed?)' END,
                lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL
            WHERE state = 'leased' AND lease_expires_at < {Now}
            RETURNING batch_id, state, attempts, last_error
            """,
        ResetLeases = """
            UPDATE batches SET state = 'pending', attempts = max(attempts - 1, 0),
                lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL
            WHERE job_id = @job AND state = 'leased'
            """,
        FindFinishedJobs = """
            SELECT job_id FROM jobs
            WHERE state = 'running'
                AND NOT EXISTS (SELECT 1 FROM batches b WHERE b.job_id = jobs.job_id AND b.state NOT IN ('done', 'dead'))
            ORDER BY created_at
            """,
        CompleteJob = $"""
            UPDATE jobs SET state = 'completed', finished_at = {Now}
            WHERE job_id = @job AND state = 'running'
                AND NOT EXISTS (SELECT 1 FROM batches b WHERE b.job_id = jobs.job_id AND b.state NOT IN ('done', 'dead'))
            """,
        ClassObjects = $"""
            SELECT label, count(*),
                sum(status = 'done'), sum(status = 'failed'), sum(status = 'dead'),
                coalesce(sum(CASE WHEN status = 'done' THEN clipped END), 0),
                coalesce(sum(CASE WHEN status = 'done' THEN bytes END), 0),
                sum(status IN ('done', 'failed') AND completed_at > {Now} - 60000),
                coalesce(sum(CASE WHEN status = 'done' AND completed_at > {Now} - 60000 THEN bytes END), 0)
            FROM objects WHERE job_id = @job AND batch_id IS NOT NULL GROUP BY label
            """,
        ClassBatches = """
            SELECT label, sum(state IN ('planned', 'pending')), sum(state = 'leased'), sum(state = 'done'), sum(state = 'dead'),
                sum(max(attempts - 1, 0)), sum(state = 'pending')
            FROM batches WHERE job_id = @job GROUP BY label
            """,
    };

    private readonly string _connectionString;
    private readonly string _path;
    private readonly SemaphoreSlim _writeGate = new(1, 1);

    /// <summary>Opens a ledger in the SQLite file at <paramref name="path"/> (created by <see cref="MigrateAsync"/>); nothing is opened until first use.</summary>
    public SqliteWorkLedger(string path)
        : base(s_sql, LedgerRows.SqliteTime)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        _path = Path.GetFullPath(path);
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = _path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = 60,
        }.ToString();
    }

    /// <inheritdoc />
    public override string Describe() => "sqlite:" + _path;

    /// <inheritdoc />
    public override async Task MigrateAsync(CancellationToken cancellationToken)
    {
        if (Path.GetDirectoryName(_path) is { Length: > 0 } directory)
        {
            Directory.CreateDirectory(directory);
        }

        // The journal mode is a property of the file and cannot change inside a transaction.
        await ExecuteAsync("migrate", async (connection, ct) =>
        {
            await ExecuteAsync(connection, null, "PRAGMA journal_mode = WAL;", ct);
            return true;
        }, cancellationToken);
        await base.MigrateAsync(cancellationToken);
    }

    /// <inheritdoc />
    public override ValueTask DisposeAsync()
    {
        // Pooled connections keep the file open; release them so the folder can be removed.
        using var connection = new SqliteConnection(_connectionString);
        SqliteConnection.ClearPool(connection);
        _writeGate.Dispose();
        return ValueTask.CompletedTask;
    }

    private protected override async ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            await ExecuteAsync(connection, null, ConnectionPragmas, cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    private protected override async ValueTask<IDisposable?> EnterWriteAsync(CancellationToken cancellationToken)
    {
        // Writers of this process queue here (with their connections already open) and are woken the moment the
        // writer before them commits. Left to SQLite, a blocked writer polls the lock with sleeps of 1 to 100 ms,
        // which added up to a second of idle cores per 100,000 objects. Other processes still meet busy_timeout.
        await _writeGate.WaitAsync(cancellationToken);
        return new GateTurn(_writeGate);
    }

    // BEGIN IMMEDIATE takes the write lock up front (waiting out busy_timeout), so no lock upgrade can fail later; a
    // single statement gets one too, as SQLite would otherwise take the lock mid-statement.
    private protected override ValueTask<DbTransaction?> BeginWriteAsync(DbConnection connection, bool atomic, CancellationToken cancellationToken) =>
        ValueTask.FromResult<DbTransaction?>(((SqliteConnection)connection).BeginTransaction(deferred: false));

    // A deferred transaction reads one snapshot and takes no write lock.
    private protected override ValueTask<DbTransaction> BeginSnapshotAsync(DbConnection connection, CancellationToken cancellationToken) =>
        ValueTask.FromResult<DbTransaction>(((SqliteConnection)connection).BeginTransaction(deferred: true));

    private protected override object Id(Guid id) => id.ToString("D", CultureInfo.InvariantCulture);

    private protected override object Duration(TimeSpan duration) => Math.Max(1, (long)Math.Ceiling(duration.TotalMilliseconds));

    // The claim and the read of its objects are two statements in the one write transaction.
    private protected override async Task<ClaimedBatch?> ClaimAsync(
        DbConnection connection, DbTransaction? transaction, string workerId, TimeSpan duration, Guid? jobId, string? label, Guid token, CancellationToken ct)
    {
        ClaimedBatch claimed;
        await using (var claim = Command(connection, transaction, jobId is null ? ClaimAnySql : label is null ? ClaimJobSql : ClaimClassSql)
            .With("@token", Id(token)).With("@worker", workerId).With("@duration", Duration(duration)))
        {
            if (jobId is { } id)
            {
                claim.With("@job", Id(id));
            }

            if (label is not null)
            {
                claim.With("@label", label);
            }

            await using var reader = await claim.ExecuteReaderAsync(ct);
            if (!await reader.ReadAsync(ct))
            {
                return null;
            }

            claimed = new ClaimedBatch(
                reader.GetInt64(0), reader.GetGuid(1), reader.GetString(2), reader.GetInt32(3),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(4)), []);
        }

        await using (var read = Command(connection, transaction, PendingObjectsSql).With("@batch", claimed.BatchId))
        await using (var reader = await read.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                claimed.Objects.Add(new BatchObject(reader.GetInt64(0), reader.GetString(1), reader.GetInt64(2), reader.IsDBNull(3) ? null : reader.GetString(3)));
            }
        }

        return claimed;
    }

    private protected override async Task InsertPlannedAsync(
        DbConnection connection, DbTransaction transaction, Guid jobId, IReadOnlyList<BatchPlanner.Chunk> chunks, CancellationToken ct)
    {
        await using var grow = Command(connection, transaction, "UPDATE batches SET object_count = object_count + @n WHERE batch_id = @batch")
            .With("@n", 0).With("@batch", 0L);
        await using var insertBatch = Command(
            connection, transaction, "INSERT INTO batches (job_id, label, state, object_count) VALUES (@job, @label, 'planned', @n) RETURNING batch_id")
            .With("@job", Id(jobId)).With("@label", string.Empty).With("@n", 0);
        using var rows = new JsonRows();
        foreach (var chunk in chunks)
        {
            long batchId;
            if (chunk.ExistingBatchId is { } existing)
            {
                batchId = existing;
                grow.Parameters["@n"].Value = chunk.Objects.Count;
                grow.Parameters["@batch"].Value = existing;
                await grow.ExecuteNonQueryAsync(ct);
            }
            else
            {
                insertBatch.Parameters["@label"].Value = chunk.Label;
                insertBatch.Parameters["@n"].Value = chunk.Objects.Count;
                batchId = Convert.ToInt64(await insertBatch.ExecuteScalarAsync(ct), CultureInfo.InvariantCulture);
            }

            foreach (var item in chunk.Objects)
            {
                rows.Begin();
                rows.Number(batchId);
                rows.Text(item.Key);
                rows.Text(chunk.Label);
                rows.Number(item.Size);
                rows.Text(item.SourceETag);
                rows.End();
            }
        }

        await using var insert = Command(connection, transaction, InsertObjectsSql).With("@job", Id(jobId)).With("@rows", rows.ToText());
        await insert.ExecuteNonQueryAsync(ct);
    }

    private protected override async Task InsertOutcomesAsync(
        DbConnection connection, DbTransaction transaction, Guid jobId, IReadOnlyList<PlanningOutcome> outcomes, CancellationToken ct)
    {
        var rows = JsonRows.Of(outcomes, static (row, outcome) =>
        {
            row.Text(outcome.Key);
            row.Text(LedgerText.ToText(outcome.Outcome));
            row.Text(LedgerText.Truncate(outcome.Reason ?? string.Empty));
        });
        await using var insert = Command(connection, transaction, InsertOutcomesSql).With("@job", Id(jobId)).With("@rows", rows);
        await insert.ExecuteNonQueryAsync(ct);
    }

    private protected override async Task<int> UpdateResultsAsync(
        DbConnection connection, DbTransaction transaction, long batchId, IReadOnlyList<ObjectResult> results, CancellationToken ct)
    {
        var rows = JsonRows.Of(results, static (row, result) =>
        {
            row.Number(result.ObjectId);
            row.Text(LedgerText.ToText(result.Outcome));
            row.Text(result.Reason is null ? null : LedgerText.Truncate(result.Reason));
            row.Number(result.KeyVersion);
            row.Text(result.SourceETag);
            row.Text(result.OutputETag);
            row.Number(result.Bytes);
            row.Number(result.ClippedSamples);
        });
        await using var update = Command(connection, transaction, CompleteObjectsSql).With("@batch", batchId).With("@rows", rows);
        return await update.ExecuteNonQueryAsync(ct);
    }

    private protected override PosCudaException Translate(string operation, DbException exception)
    {
        // SQLITE_BUSY and SQLITE_LOCKED pass; anything else will fail again.
        var transient = exception is SqliteException { SqliteErrorCode: var code } && (code & 0xFF) is 5 or 6;
        return new PosCudaException($"The work ledger at {Describe()} could not {operation}: {exception.Message}", transient, exception);
    }

    private sealed class GateTurn(SemaphoreSlim gate) : IDisposable
    {
        public void Dispose() => gate.Release();
    }
}
