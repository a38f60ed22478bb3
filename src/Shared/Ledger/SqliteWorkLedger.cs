using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;
using PosCuda.Shared.Protection;

namespace PosCuda.Shared.Ledger;

/// <summary>The work ledger in an embedded SQLite file, for one process with many worker threads on one machine.</summary>
/// <remarks>
/// WAL journal, <c>synchronous=NORMAL</c>, a busy timeout, one pooled connection per operation and every write in a
/// <c>BEGIN IMMEDIATE</c> transaction, so writers queue instead of failing on a lock upgrade. Times are the
/// database's clock in Unix milliseconds.
/// </remarks>
public sealed class SqliteWorkLedger : IWorkLedger
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

    private readonly string _connectionString;
    private readonly string _path;
    private readonly ConcurrentDictionary<Guid, JobDefinition> _definitions = new();
    private readonly SemaphoreSlim _writeGate = new(1, 1);

    /// <summary>Opens a ledger in the SQLite file at <paramref name="path"/> (created by <see cref="MigrateAsync"/>); nothing is opened until first use.</summary>
    public SqliteWorkLedger(string path)
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
    public string Describe() => "sqlite:" + _path;

    /// <inheritdoc />
    public async Task MigrateAsync(CancellationToken cancellationToken)
    {
        if (Path.GetDirectoryName(_path) is { Length: > 0 } directory)
        {
            Directory.CreateDirectory(directory);
        }

        await ExecuteAsync("migrate", async (connection, ct) =>
        {
            // The journal mode is a property of the file and cannot change inside a transaction.
            await ExecuteNonQueryAsync(connection, null, "PRAGMA journal_mode = WAL;", ct);
            return true;
        }, cancellationToken);

        await WriteAsync("migrate", async (connection, transaction, ct) =>
        {
            await ExecuteNonQueryAsync(connection, transaction, SqliteSchema.Bootstrap, ct);
            var applied = new HashSet<long>();
            await using (var command = Command(connection, transaction, "SELECT version FROM schema_migrations"))
            await using (var reader = await command.ExecuteReaderAsync(ct))
            {
                while (await reader.ReadAsync(ct))
                {
                    applied.Add(reader.GetInt64(0));
                }
            }

            for (var i = 0; i < SqliteSchema.Migrations.Count; i++)
            {
                var version = i + 1;
                if (applied.Contains(version))
                {
                    continue;
                }

                await ExecuteNonQueryAsync(connection, transaction, SqliteSchema.Migrations[i], ct);
                await using var record = Command(connection, transaction, "INSERT INTO schema_migrations (version) VALUES (@version)");
                record.Parameters.AddWithValue("@version", version);
                await record.ExecuteNonQueryAsync(ct);
            }

            return true;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<Guid> CreateJobAsync(JobDefinition definition, CancellationToken cancellationToken)
    {
        LedgerGuards.Definition(definition);
        var jobId = Guid.CreateVersion7();
        return WriteAsync("create a job", async (connection, transaction, ct) =>
        {
            const string Sql = $"""
                INSERT INTO jobs (job_id, state, source, destination, label_rule, spec, taps, patch_length, blur,
                    window_length, mode, spec_options, key_id, key_version, max_attempts, trace_parent, created_at)
                VALUES (@job, 'planning', @source, @destination, @rule, @spec, @taps, @patch, @blur,
                    @window, @mode, @spec_options, @key_id, @key_version, @max_attempts, @trace_parent, {Now})
                """;
            await using var command = Command(connection, transaction, Sql);
            command.Parameters.AddWithValue("@job", Text(jobId));
            AddDefinition(command, definition);
            command.Parameters.AddWithValue("@max_attempts", definition.MaxAttempts);
            command.Parameters.AddWithValue("@trace_parent", (object?)definition.TraceParent ?? DBNull.Value);
            await command.ExecuteNonQueryAsync(ct);
            _definitions[jobId] = definition;
            return jobId;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task AddObjectsAsync(Guid jobId, IReadOnlyList<PlannedObject> objects, int batchSize, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(objects);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        if (objects.Count == 0)
        {
            return Task.CompletedTask;
        }

        return WriteAsync("add objects", async (connection, transaction, ct) =>
        {
            await EnsurePlanningAsync(connection, transaction, jobId, ct);

            var open = new Dictionary<string, BatchPlanner.OpenBatch>(StringComparer.Ordinal);

            // SQLite returns the other columns of the row that holds max(batch_id): each class's newest planned batch.
            const string OpenSql = """
                SELECT label, max(batch_id), object_count FROM batches
                WHERE job_id = @job AND state = 'planned' GROUP BY label
                """;
            await using (var command = Command(connection, transaction, OpenSql))
            {
                command.Parameters.AddWithValue("@job", Text(jobId));
                await using var reader = await command.ExecuteReaderAsync(ct);
                while (await reader.ReadAsync(ct))
                {
                    open[reader.GetString(0)] = new BatchPlanner.OpenBatch(reader.GetInt64(1), reader.GetInt32(2));
                }
            }

            var chunks = BatchPlanner.Plan(objects, batchSize, open);
            await using var grow = Command(connection, transaction, "UPDATE batches SET object_count = object_count + @n WHERE batch_id = @batch");
            var growCount = grow.Parameters.Add("@n", SqliteType.Integer);
            var growBatch = grow.Parameters.Add("@batch", SqliteType.Integer);
            await using var insertBatch = Command(
                connection,
                transaction,
                "INSERT INTO batches (job_id, label, state, object_count) VALUES (@job, @label, 'planned', @n) RETURNING batch_id");
            insertBatch.Parameters.AddWithValue("@job", Text(jobId));
            var batchLabel = insertBatch.Parameters.Add("@label", SqliteType.Text);
            var batchCount = insertBatch.Parameters.Add("@n", SqliteType.Integer);

            // Every object goes in with one statement over a JSON array ([batch, key, label, size, etag] per object):
            // one bind and one step instead of five binds and a step per object.
            using var rows = new JsonRows();
            foreach (var chunk in chunks)
            {
                long batchId;
                if (chunk.ExistingBatchId is { } existing)
                {
                    batchId = existing;
                    growCount.Value = chunk.Objects.Count;
                    growBatch.Value = existing;
                    await grow.ExecuteNonQueryAsync(ct);
                }
                else
                {
                    batchLabel.Value = chunk.Label;
                    batchCount.Value = chunk.Objects.Count;
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

            const string InsertSql = """
                INSERT INTO objects (job_id, batch_id, key, label, size, source_etag)
                SELECT @job, value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4 FROM json_each(@rows)
                """;
            await using var insert = Command(connection, transaction, InsertSql);
            insert.Parameters.AddWithValue("@job", Text(jobId));
            insert.Parameters.AddWithValue("@rows", rows.ToText());
            await insert.ExecuteNonQueryAsync(ct);
            return true;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task RecordPlanningOutcomesAsync(Guid jobId, IReadOnlyList<PlanningOutcome> outcomes, CancellationToken cancellationToken)
    {
        LedgerGuards.PlanningOutcomes(outcomes);
        if (outcomes.Count == 0)
        {
            return Task.CompletedTask;
        }

        return WriteAsync("record planning outcomes", async (connection, transaction, ct) =>
        {
            await EnsurePlanningAsync(connection, transaction, jobId, ct);

            // Like planned objects, in one statement over a JSON array ([key, status, reason] per object).
            using var rows = new JsonRows();
            foreach (var outcome in outcomes)
            {
                rows.Begin();
                rows.Text(outcome.Key);
                rows.Text(LedgerText.ToText(outcome.Outcome));
                rows.Text(LedgerText.Truncate(outcome.Reason ?? string.Empty));
                rows.End();
            }

            const string InsertSql = $"""
                INSERT INTO objects (job_id, key, label, size, status, reason, completed_at)
                SELECT @job, value ->> 0, '', 0, value ->> 1, value ->> 2, {Now} FROM json_each(@rows)
                """;
            await using var insert = Command(connection, transaction, InsertSql);
            insert.Parameters.AddWithValue("@job", Text(jobId));
            insert.Parameters.AddWithValue("@rows", rows.ToText());
            await insert.ExecuteNonQueryAsync(ct);
            return true;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task OpenPlannedBatchesAsync(Guid jobId, CancellationToken cancellationToken) =>
        WriteAsync("open planned batches", async (connection, transaction, ct) =>
        {
            await using var open = Command(connection, transaction, "UPDATE batches SET state = 'pending' WHERE job_id = @job AND state = 'planned'");
            open.Parameters.AddWithValue("@job", Text(jobId));
            await open.ExecuteNonQueryAsync(ct);
            return true;
        }, cancellationToken);

    /// <inheritdoc />
    public Task StartJobAsync(Guid jobId, CancellationToken cancellationToken) =>
        WriteAsync("start a job", async (connection, transaction, ct) =>
        {
            await using (var check = Command(connection, transaction, "SELECT state FROM jobs WHERE job_id = @job"))
            {
                check.Parameters.AddWithValue("@job", Text(jobId));
                var state = await check.ExecuteScalarAsync(ct) as string
                    ?? throw new ArgumentException($"The ledger has no job {jobId}.", nameof(jobId));
                if (state != "planning")
                {
                    return true;
                }
            }

            await using var start = Command(
                connection,
                transaction,
                $"""
                UPDATE jobs SET state = 'running', started_at = {Now} WHERE job_id = @job;
                UPDATE batches SET state = 'pending' WHERE job_id = @job AND state = 'planned';
                """);
            start.Parameters.AddWithValue("@job", Text(jobId));
            await start.ExecuteNonQueryAsync(ct);
            return true;
        }, cancellationToken);

    /// <inheritdoc />
    public Task<JobRecord?> GetJobAsync(Guid jobId, CancellationToken cancellationToken) =>
        ExecuteAsync("read a job", (connection, ct) => ReadJobAsync(connection, null, jobId, ct), cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<JobRecord>> ListJobsAsync(CancellationToken cancellationToken) =>
        ExecuteAsync<IReadOnlyList<JobRecord>>("list jobs", async (connection, ct) =>
        {
            await using var command = Command(connection, null, $"SELECT {LedgerRows.JobColumns} FROM jobs ORDER BY created_at DESC, rowid DESC");
            await using var reader = await command.ExecuteReaderAsync(ct);
            var jobs = new List<JobRecord>();
            while (await reader.ReadAsync(ct))
            {
                jobs.Add(LedgerRows.ReadJob(reader, LedgerRows.SqliteTime));
            }

            return jobs;
        }, cancellationToken);

    /// <inheritdoc />
    public Task<Guid?> FindJobAsync(JobDefinition definition, CancellationToken cancellationToken)
    {
        LedgerGuards.Definition(definition);
        return ExecuteAsync<Guid?>("find a job", async (connection, ct) =>
        {
            const string Sql = """
                SELECT job_id FROM jobs
                WHERE state <> 'completed' AND source = @source AND destination = @destination AND label_rule = @rule
                    AND spec = @spec AND taps = @taps AND patch_length = @patch AND blur = @blur AND window_length = @window AND spec_options = @spec_options
                    AND mode = @mode AND key_id = @key_id AND key_version = @key_version
                ORDER BY created_at DESC, rowid DESC
                LIMIT 1
                """;
            await using var command = Command(connection, null, Sql);
            AddDefinition(command, definition);
            return await command.ExecuteScalarAsync(ct) is string id ? Guid.Parse(id) : null;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<BatchLease?> ClaimBatchAsync(string workerId, TimeSpan leaseDuration, Guid? jobId, CancellationToken cancellationToken)
        => ClaimAsync(workerId, leaseDuration, jobId, null, cancellationToken);

    /// <inheritdoc />
    public Task<BatchLease?> ClaimClassBatchAsync(string workerId, TimeSpan leaseDuration, Guid jobId, string label, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(label);
        return ClaimAsync(workerId, leaseDuration, jobId, label, cancellationToken);
    }

    private Task<BatchLease?> ClaimAsync(string workerId, TimeSpan leaseDuration, Guid? jobId, string? onlyLabel, CancellationToken cancellationToken)
    {
        LedgerGuards.Claim(workerId, leaseDuration);
        var token = Guid.CreateVersion7();
        return WriteAsync("claim a batch", async (connection, transaction, ct) =>
        {
            long batchId;
            Guid claimedJob;
            string label;
            int attempt;
            DateTimeOffset expiresAt;
            const string AnySql = ClaimHead + ClaimTail;
            const string JobSql = ClaimHead + " AND job_id = @job" + ClaimTail;
            const string ClassSql = ClaimHead + " AND job_id = @job AND label = @label" + ClaimTail;
            await using (var claim = Command(connection, transaction, jobId is null ? AnySql : onlyLabel is null ? JobSql : ClassSql))
            {
                claim.Parameters.AddWithValue("@token", Text(token));
                claim.Parameters.AddWithValue("@worker", workerId);
                claim.Parameters.AddWithValue("@duration", ToMilliseconds(leaseDuration));
                if (jobId is { } id)
                {
                    claim.Parameters.AddWithValue("@job", Text(id));
                }

                if (onlyLabel is not null)
                {
                    claim.Parameters.AddWithValue("@label", onlyLabel);
                }

                await using var reader = await claim.ExecuteReaderAsync(ct);
                if (!await reader.ReadAsync(ct))
                {
                    return null;
                }

                batchId = reader.GetInt64(0);
                claimedJob = Guid.Parse(reader.GetString(1));
                label = reader.GetString(2);
                attempt = reader.GetInt32(3);
                expiresAt = DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(4));
            }

            var objects = new List<BatchObject>();
            await using (var read = Command(
                connection,
                transaction,
                "SELECT object_id, key, size, source_etag FROM objects WHERE batch_id = @batch AND status = 'pending' ORDER BY key"))
            {
                read.Parameters.AddWithValue("@batch", batchId);
                await using var reader = await read.ExecuteReaderAsync(ct);
                while (await reader.ReadAsync(ct))
                {
                    objects.Add(new BatchObject(reader.GetInt64(0), reader.GetString(1), reader.GetInt64(2), reader.IsDBNull(3) ? null : reader.GetString(3)));
                }
            }

            var definition = await GetDefinitionAsync(connection, transaction, claimedJob, ct);
            return new BatchLease(claimedJob, definition, batchId, label, token, attempt, expiresAt, objects);
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<DateTimeOffset> HeartbeatAsync(BatchLease lease, TimeSpan leaseDuration, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(lease);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(leaseDuration, TimeSpan.Zero);
        return WriteAsync("heartbeat a lease", async (connection, transaction, ct) =>
        {
            const string Sql = $"""
                UPDATE batches SET lease_expires_at = {Now} + @duration
                WHERE batch_id = @batch AND lease_token = @token AND state = 'leased'
                RETURNING lease_expires_at
                """;
            await using var command = Command(connection, transaction, Sql);
            command.Parameters.AddWithValue("@duration", ToMilliseconds(leaseDuration));
            command.Parameters.AddWithValue("@batch", lease.BatchId);
            command.Parameters.AddWithValue("@token", Text(lease.LeaseToken));
            return await command.ExecuteScalarAsync(ct) is long expires
                ? DateTimeOffset.FromUnixTimeMilliseconds(expires)
                : throw new LeaseLostException(lease.BatchId);
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task CompleteBatchAsync(BatchLease lease, IReadOnlyList<ObjectResult> results, CancellationToken cancellationToken)
    {
        LedgerGuards.Results(lease, results);
        return WriteAsync("complete a batch", async (connection, transaction, ct) =>
        {
            // The fence goes first; a lost lease throws and the transaction rolls back with nothing written.
            const string FenceSql = $"""
                UPDATE batches SET state = 'done', completed_at = {Now}, lease_token = NULL, lease_expires_at = NULL
                WHERE batch_id = @batch AND lease_token = @token AND state = 'leased'
                """;
            await using (var fence = Command(connection, transaction, FenceSql))
            {
                fence.Parameters.AddWithValue("@batch", lease.BatchId);
                fence.Parameters.AddWithValue("@token", Text(lease.LeaseToken));
                if (await fence.ExecuteNonQueryAsync(ct) == 0)
                {
                    throw new LeaseLostException(lease.BatchId);
                }
            }

            using var rows = new JsonRows();
            foreach (var result in results)
            {
                rows.Begin();
                rows.Number(result.ObjectId);
                rows.Text(LedgerText.ToText(result.Outcome));
                rows.Text(result.Reason is null ? null : LedgerText.Truncate(result.Reason));
                rows.Number(result.KeyVersion);
                rows.Text(result.SourceETag);
                rows.Text(result.OutputETag);
                rows.Number(result.Bytes);
                rows.Number(result.ClippedSamples);
                rows.End();
            }

            await using (var update = Command(connection, transaction, CompleteObjectsSql))
            {
                update.Parameters.AddWithValue("@batch", lease.BatchId);
                update.Parameters.AddWithValue("@rows", rows.ToText());
                if (await update.ExecuteNonQueryAsync(ct) != results.Count)
                {
                    throw new ArgumentException(
                        $"Some results name objects that are not pending in batch {lease.BatchId}; nothing was recorded.", nameof(results));
                }
            }

            const string LeftoverSql = $"""
                UPDATE objects SET status = 'failed', reason = 'the batch was completed without a result for this object',
                    completed_at = {Now}
                WHERE batch_id = @batch AND status = 'pending'
                """;
            await using var leftover = Command(connection, transaction, LeftoverSql);
            leftover.Parameters.AddWithValue("@batch", lease.BatchId);
            await leftover.ExecuteNonQueryAsync(ct);
            return true;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task ReleaseBatchAsync(BatchLease lease, string? error, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(lease);
        return WriteAsync("release a batch", async (connection, transaction, ct) =>
        {
            const string VoluntarySql = """
                UPDATE batches SET state = 'pending', attempts = max(attempts - 1, 0),
                    lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL
                WHERE batch_id = @batch AND lease_token = @token AND state = 'leased'
                RETURNING state, attempts
                """;
            const string ErrorSql = $"""
                UPDATE batches
                SET state = CASE WHEN attempts >= {MaxAttempts} THEN 'dead' ELSE 'pending' END,
                    completed_at = CASE WHEN attempts >= {MaxAttempts} THEN {Now} END,
                    last_error = @error, lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL
                WHERE batch_id = @batch AND lease_token = @token AND state = 'leased'
                RETURNING state, attempts
                """;
            string state;
            int attempts;
            await using (var command = Command(connection, transaction, error is null ? VoluntarySql : ErrorSql))
            {
                command.Parameters.AddWithValue("@batch", lease.BatchId);
                command.Parameters.AddWithValue("@token", Text(lease.LeaseToken));
                if (error is not null)
                {
                    command.Parameters.AddWithValue("@error", LedgerText.Truncate(error));
                }

                await using var reader = await command.ExecuteReaderAsync(ct);
                if (!await reader.ReadAsync(ct))
                {
                    throw new LeaseLostException(lease.BatchId);
                }

                state = reader.GetString(0);
                attempts = reader.GetInt32(1);
            }

            if (state == "dead")
            {
                await KillObjectsAsync(connection, transaction, lease.BatchId, LedgerText.DeadObjectReason(attempts, LedgerText.Truncate(error!)), ct);
            }

            return true;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<bool> TryAcquireLeadershipAsync(string holderId, TimeSpan ttl, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(holderId);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ttl, TimeSpan.Zero);
        return WriteAsync("take the coordinator lease", async (connection, transaction, ct) =>
        {
            const string Sql = $"""
                INSERT INTO coordinator_lease (id, holder, expires_at) VALUES (1, @holder, {Now} + @ttl)
                ON CONFLICT (id) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
                WHERE coordinator_lease.holder = excluded.holder OR coordinator_lease.expires_at < {Now}
                RETURNING holder
                """;
            await using var command = Command(connection, transaction, Sql);
            command.Parameters.AddWithValue("@holder", holderId);
            command.Parameters.AddWithValue("@ttl", ToMilliseconds(ttl));
            return await command.ExecuteScalarAsync(ct) is string holder && holder == holderId;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<MaintenanceResult> RescueExpiredLeasesAsync(CancellationToken cancellationToken) =>
        WriteAsync("rescue expired leases", async (connection, transaction, ct) =>
        {
            const string Sql = $"""
                UPDATE batches
                SET state = CASE WHEN attempts >= {MaxAttempts} THEN 'dead' ELSE 'pending' END,
                    completed_at = CASE WHEN attempts >= {MaxAttempts} THEN {Now} END,
                    last_error = CASE WHEN attempts >= {MaxAttempts}
                        THEN 'lease expired ' || attempts || ' times (worker crashed?)'
                        ELSE 'lease expired on attempt ' || attempts || ' (worker crashed?)' END,
                    lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL
                WHERE state = 'leased' AND lease_expires_at < {Now}
                RETURNING batch_id, state, attempts, last_error
                """;
            var dead = new List<(long BatchId, int Attempts, string LastError)>();
            var rescued = 0;
            await using (var command = Command(connection, transaction, Sql))
            await using (var reader = await command.ExecuteReaderAsync(ct))
            {
                while (await reader.ReadAsync(ct))
                {
                    if (reader.GetString(1) == "dead")
                    {
                        dead.Add((reader.GetInt64(0), reader.GetInt32(2), reader.GetString(3)));
                    }
                    else
                    {
                        rescued++;
                    }
                }
            }

            foreach (var (batchId, attempts, lastError) in dead)
            {
                await KillObjectsAsync(connection, transaction, batchId, LedgerText.DeadObjectReason(attempts, lastError), ct);
            }

            return new MaintenanceResult(rescued, dead.Count);
        }, cancellationToken);

    /// <inheritdoc />
    public Task<int> ResetLeasesAsync(Guid jobId, CancellationToken cancellationToken) =>
        WriteAsync("reset leases", async (connection, transaction, ct) =>
        {
            const string Sql = """
                UPDATE batches SET state = 'pending', attempts = max(attempts - 1, 0),
                    lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL
                WHERE job_id = @job AND state = 'leased'
                """;
            await using var command = Command(connection, transaction, Sql);
            command.Parameters.AddWithValue("@job", Text(jobId));
            return await command.ExecuteNonQueryAsync(ct);
        }, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<Guid>> CompleteFinishedJobsAsync(CancellationToken cancellationToken) =>
        WriteAsync<IReadOnlyList<Guid>>("complete finished jobs", async (connection, transaction, ct) =>
        {
            const string Sql = $"""
                UPDATE jobs SET state = 'completed', finished_at = {Now}
                WHERE state = 'running'
                    AND NOT EXISTS (SELECT 1 FROM batches b WHERE b.job_id = jobs.job_id AND b.state NOT IN ('done', 'dead'))
                RETURNING job_id
                """;
            await using var command = Command(connection, transaction, Sql);
            await using var reader = await command.ExecuteReaderAsync(ct);
            var jobs = new List<Guid>();
            while (await reader.ReadAsync(ct))
            {
                jobs.Add(Guid.Parse(reader.GetString(0)));
            }

            return jobs;
        }, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<Guid>> FindFinishedJobsAsync(CancellationToken cancellationToken) =>
        ExecuteAsync<IReadOnlyList<Guid>>("find finished jobs", async (connection, ct) =>
        {
            const string Sql = """
                SELECT job_id FROM jobs
                WHERE state = 'running'
                    AND NOT EXISTS (SELECT 1 FROM batches b WHERE b.job_id = jobs.job_id AND b.state NOT IN ('done', 'dead'))
                ORDER BY created_at
                """;
            await using var command = Command(connection, null, Sql);
            await using var reader = await command.ExecuteReaderAsync(ct);
            var jobs = new List<Guid>();
            while (await reader.ReadAsync(ct))
            {
                jobs.Add(Guid.Parse(reader.GetString(0)));
            }

            return jobs;
        }, cancellationToken);

    /// <inheritdoc />
    public Task<bool> CompleteJobAsync(Guid jobId, CancellationToken cancellationToken) =>
        WriteAsync("complete a job", async (connection, transaction, ct) =>
        {
            const string Sql = $"""
                UPDATE jobs SET state = 'completed', finished_at = {Now}
                WHERE job_id = @job AND state = 'running'
                    AND NOT EXISTS (SELECT 1 FROM batches b WHERE b.job_id = jobs.job_id AND b.state NOT IN ('done', 'dead'))
                """;
            await using var command = Command(connection, transaction, Sql);
            command.Parameters.AddWithValue("@job", Text(jobId));
            return await command.ExecuteNonQueryAsync(ct) == 1;
        }, cancellationToken);

    /// <inheritdoc />
    public Task<JobStatus?> GetJobStatusAsync(Guid jobId, CancellationToken cancellationToken) =>
        ExecuteAsync("read a job's status", async (connection, ct) =>
        {
            // One deferred (read) transaction: every count comes from the same snapshot, and no write lock is taken.
            await using var transaction = connection.BeginTransaction(deferred: true);
            var job = await ReadJobAsync(connection, transaction, jobId, ct);
            if (job is null)
            {
                return null;
            }

            var tally = new JobTally();
            const string ObjectsSql = $"""
                SELECT label, count(*),
                    sum(status = 'done'), sum(status = 'failed'), sum(status = 'dead'),
                    total(CASE WHEN status = 'done' THEN clipped END),
                    total(CASE WHEN status = 'done' THEN bytes END),
                    sum(status IN ('done', 'failed') AND completed_at > {Now} - 60000),
                    total(CASE WHEN status = 'done' AND completed_at > {Now} - 60000 THEN bytes END)
                FROM objects WHERE job_id = @job AND batch_id IS NOT NULL GROUP BY label
                """;
            await using (var command = Command(connection, transaction, ObjectsSql))
            {
                command.Parameters.AddWithValue("@job", Text(jobId));
                await using var reader = await command.ExecuteReaderAsync(ct);
                while (await reader.ReadAsync(ct))
                {
                    tally.AddObjects(
                        reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4),
                        (long)reader.GetDouble(5), (long)reader.GetDouble(6), reader.GetInt64(7), (long)reader.GetDouble(8));
                }
            }

            const string BatchesSql = """
                SELECT label, sum(state IN ('planned', 'pending')), sum(state = 'leased'), sum(state = 'done'), sum(state = 'dead'),
                    sum(max(attempts - 1, 0))
                FROM batches WHERE job_id = @job GROUP BY label
                """;
            await using (var command = Command(connection, transaction, BatchesSql))
            {
                command.Parameters.AddWithValue("@job", Text(jobId));
                await using var reader = await command.ExecuteReaderAsync(ct);
                while (await reader.ReadAsync(ct))
                {
                    tally.AddBatches(
                        reader.GetString(0), reader.GetInt32(1), reader.GetInt32(2), reader.GetInt32(3), reader.GetInt32(4), reader.GetInt32(5));
                }
            }

            const string DeadSql = "SELECT batch_id, label, attempts, last_error FROM batches WHERE job_id = @job AND state = 'dead' ORDER BY batch_id";
            await using (var command = Command(connection, transaction, DeadSql))
            {
                command.Parameters.AddWithValue("@job", Text(jobId));
                await using var reader = await command.ExecuteReaderAsync(ct);
                while (await reader.ReadAsync(ct))
                {
                    tally.DeadLetters.Add(new DeadLetter(
                        reader.GetInt64(0), reader.GetString(1), reader.GetInt32(2), reader.IsDBNull(3) ? null : reader.GetString(3)));
                }
            }

            return tally.ToStatus(job);
        }, cancellationToken);

    /// <inheritdoc />
    public async IAsyncEnumerable<ObjectRecord> ReadObjectsAsync(Guid jobId, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        const string Sql = $"""
            SELECT {LedgerRows.ObjectColumns}
            FROM objects WHERE job_id = @job ORDER BY key
            """;
        SqliteConnection connection;
        try
        {
            connection = await OpenAsync(cancellationToken);
        }
        catch (SqliteException e)
        {
            throw Translate("read objects", e);
        }

        await using (connection)
        {
            await using var command = Command(connection, null, Sql);
            command.Parameters.AddWithValue("@job", Text(jobId));
            SqliteDataReader reader;
            try
            {
                reader = await command.ExecuteReaderAsync(cancellationToken);
            }
            catch (SqliteException e)
            {
                throw Translate("read objects", e);
            }

            await using (reader)
            {
                while (true)
                {
                    ObjectRecord record;
                    try
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        if (!await reader.ReadAsync(cancellationToken))
                        {
                            break;
                        }

                        record = LedgerRows.ReadObject(reader, LedgerRows.SqliteTime);
                    }
                    catch (SqliteException e)
                    {
                        throw Translate("read objects", e);
                    }

                    yield return record;
                }
            }
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        // Pooled connections keep the file open; release them so the folder can be removed.
        using var connection = new SqliteConnection(_connectionString);
        SqliteConnection.ClearPool(connection);
        _writeGate.Dispose();
        return ValueTask.CompletedTask;
    }

    private static string Text(Guid id) => id.ToString("D", CultureInfo.InvariantCulture);

    private static long ToMilliseconds(TimeSpan duration) => Math.Max(1, (long)Math.Ceiling(duration.TotalMilliseconds));

    private static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        return command;
    }

    private static async Task ExecuteNonQueryAsync(SqliteConnection connection, SqliteTransaction? transaction, string sql, CancellationToken ct)
    {
        await using var command = Command(connection, transaction, sql);
        await command.ExecuteNonQueryAsync(ct);
    }

    private static async Task EnsurePlanningAsync(SqliteConnection connection, SqliteTransaction transaction, Guid jobId, CancellationToken ct)
    {
        await using var check = Command(connection, transaction, "SELECT state FROM jobs WHERE job_id = @job");
        check.Parameters.AddWithValue("@job", Text(jobId));
        switch (await check.ExecuteScalarAsync(ct))
        {
            case null:
                throw new ArgumentException($"The ledger has no job {jobId}.", nameof(jobId));
            case string state when state != "planning":
                throw new InvalidOperationException($"Job {jobId} is {state}; objects can only be added while it is planning.");
        }
    }

    private static async Task KillObjectsAsync(SqliteConnection connection, SqliteTransaction transaction, long batchId, string reason, CancellationToken ct)
    {
        const string Sql = $"""
            UPDATE objects SET status = 'dead', reason = @reason, completed_at = {Now}
            WHERE batch_id = @batch AND status = 'pending'
            """;
        await using var command = Command(connection, transaction, Sql);
        command.Parameters.AddWithValue("@reason", reason);
        command.Parameters.AddWithValue("@batch", batchId);
        await command.ExecuteNonQueryAsync(ct);
    }

    private static void AddDefinition(SqliteCommand command, JobDefinition definition)
    {
        var parameters = definition.Parameters;
        command.Parameters.AddWithValue("@source", definition.Source);
        command.Parameters.AddWithValue("@destination", definition.Destination);
        command.Parameters.AddWithValue("@rule", definition.LabelRule);
        command.Parameters.AddWithValue("@spec", parameters.Spec);
        command.Parameters.AddWithValue("@taps", parameters.Taps);
        command.Parameters.AddWithValue("@patch", parameters.PatchLength);
        command.Parameters.AddWithValue("@blur", parameters.Blur);
        command.Parameters.AddWithValue("@window", parameters.Window);
        command.Parameters.AddWithValue("@mode", LedgerText.ToText(parameters.Mode));
        command.Parameters.AddWithValue("@spec_options", parameters.Spec == PoscudaV2.SpecName ? parameters.Code.ToText() : "");
        command.Parameters.AddWithValue("@key_id", definition.KeyId);
        command.Parameters.AddWithValue("@key_version", definition.KeyVersion);
    }

    private static bool IsTransient(SqliteException e) => (e.SqliteErrorCode & 0xFF) is 5 or 6; // SQLITE_BUSY, SQLITE_LOCKED

    private async Task<JobRecord?> ReadJobAsync(SqliteConnection connection, SqliteTransaction? transaction, Guid jobId, CancellationToken ct)
    {
        await using var command = Command(connection, transaction, $"SELECT {LedgerRows.JobColumns} FROM jobs WHERE job_id = @job");
        command.Parameters.AddWithValue("@job", Text(jobId));
        await using var reader = await command.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct))
        {
            return null;
        }

        var job = LedgerRows.ReadJob(reader, LedgerRows.SqliteTime);
        _definitions.TryAdd(jobId, job.Definition);
        return job;
    }

    private async Task<JobDefinition> GetDefinitionAsync(SqliteConnection connection, SqliteTransaction transaction, Guid jobId, CancellationToken ct)
    {
        if (_definitions.TryGetValue(jobId, out var definition))
        {
            return definition;
        }

        var job = await ReadJobAsync(connection, transaction, jobId, ct);
        return job?.Definition ?? throw new PosCudaException($"Batch of job {jobId} has no job row in the ledger.");
    }

    private async Task<SqliteConnection> OpenAsync(CancellationToken ct)
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(ct);
            await ExecuteNonQueryAsync(connection, null, ConnectionPragmas, ct);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    private async Task<T> ExecuteAsync<T>(string operation, Func<SqliteConnection, CancellationToken, Task<T>> body, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await OpenAsync(cancellationToken);
            return await body(connection, cancellationToken);
        }
        catch (SqliteException e)
        {
            throw Translate(operation, e);
        }
    }

    private Task<T> WriteAsync<T>(string operation, Func<SqliteConnection, SqliteTransaction, CancellationToken, Task<T>> body, CancellationToken cancellationToken) =>
        ExecuteAsync(operation, async (connection, ct) =>
        {
            // Writers of this process queue here (with their connections already open) and are woken the moment the
            // writer before them commits. Left to SQLite, a blocked writer polls the lock with sleeps of 1 to 100 ms,
            // which added up to a second of idle cores per 100,000 objects. Other processes still meet busy_timeout.
            await _writeGate.WaitAsync(ct);
            try
            {
                // BEGIN IMMEDIATE takes the write lock up front (waiting out busy_timeout), so no lock upgrade can fail later.
                await using var transaction = connection.BeginTransaction(deferred: false);
                var result = await body(connection, transaction, ct);
                await transaction.CommitAsync(ct);
                return result;
            }
            finally
            {
                _writeGate.Release();
            }
        }, cancellationToken);

    private PosCudaException Translate(string operation, SqliteException e) =>
        new($"The work ledger at {Describe()} could not {operation}: {e.Message}", IsTransient(e), e);
}
