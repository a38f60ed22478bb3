using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Npgsql;
using NpgsqlTypes;
using PosCuda.Shared.Protection;

namespace PosCuda.Shared.Ledger;

/// <summary>The work ledger in PostgreSQL, for many worker processes on many nodes.</summary>
/// <remarks>
/// Claims are one statement over partial indexes (<c>FOR UPDATE SKIP LOCKED</c>); every lease time comes from the
/// server's clock; every write after a claim is fenced by the lease token. Connections come from one pooled
/// <see cref="NpgsqlDataSource"/>; no transaction stays open between calls.
/// </remarks>
public sealed class PostgresWorkLedger : IWorkLedger
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

    /// <summary>Claims the oldest pending batch of job <c>@job</c> and returns it with its pending objects.</summary>
    internal const string ClaimJobSql = """
        WITH next AS MATERIALIZED (
            SELECT batch_id FROM batches
            WHERE state = 'pending' AND job_id = @job
        """ + "\n    " + ClaimTail;

    /// <summary>Claims the oldest pending batch of class <c>@label</c> of job <c>@job</c> and returns it with its pending objects.</summary>
    internal const string ClaimClassSql = """
        WITH next AS MATERIALIZED (
            SELECT batch_id FROM batches
            WHERE state = 'pending' AND job_id = @job AND label = @label
        """ + "\n    " + ClaimTail;

    private const string ReleaseWithErrorSql = """
        WITH released AS (
            UPDATE batches b
            SET state = CASE WHEN b.attempts >= j.max_attempts THEN 'dead' ELSE 'pending' END,
                last_error = @error, lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL,
                completed_at = CASE WHEN b.attempts >= j.max_attempts THEN now() END
            FROM jobs j
            WHERE j.job_id = b.job_id AND b.batch_id = @batch AND b.lease_token = @token AND b.state = 'leased'
            RETURNING b.batch_id, b.state, b.attempts, b.last_error),
        dead AS (
            UPDATE objects o
            SET status = 'dead', completed_at = now(),
                reason = left('batch dead-lettered after ' || r.attempts || ' attempts: ' || r.last_error, 2000)
            FROM released r
            WHERE r.state = 'dead' AND o.batch_id = r.batch_id AND o.status = 'pending')
        SELECT state FROM released
        """;

    private const string RescueSql = """
        WITH expired AS MATERIALIZED (
            SELECT batch_id FROM batches
            WHERE state = 'leased' AND lease_expires_at < now()
            FOR UPDATE SKIP LOCKED),
        moved AS (
            UPDATE batches b
            SET state = CASE WHEN b.attempts >= j.max_attempts THEN 'dead' ELSE 'pending' END,
                last_error = CASE WHEN b.attempts >= j.max_attempts
                    THEN 'lease expired ' || b.attempts || ' times (worker crashed?)'
                    ELSE 'lease expired on attempt ' || b.attempts || ' (worker crashed?)' END,
                lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL,
                completed_at = CASE WHEN b.attempts >= j.max_attempts THEN now() END
            FROM expired e, jobs j
            WHERE b.batch_id = e.batch_id AND j.job_id = b.job_id
            RETURNING b.batch_id, b.state, b.attempts, b.last_error),
        dead AS (
            UPDATE objects o
            SET status = 'dead', completed_at = now(),
                reason = left('batch dead-lettered after ' || m.attempts || ' attempts: ' || m.last_error, 2000)
            FROM moved m
            WHERE m.state = 'dead' AND o.batch_id = m.batch_id AND o.status = 'pending')
        SELECT (count(*) FILTER (WHERE state = 'pending'))::int, (count(*) FILTER (WHERE state = 'dead'))::int FROM moved
        """;

    private const string CompleteObjectsSql = """
        UPDATE objects o
        SET status = r.status, reason = r.reason, key_version = r.key_version,
            source_etag = COALESCE(r.source_etag, o.source_etag), output_etag = r.output_etag,
            bytes = r.bytes, clipped = r.clipped, completed_at = now()
        FROM unnest(@ids, @statuses, @reasons, @versions, @source_etags, @output_etags, @bytes, @clipped)
            AS r(object_id, status, reason, key_version, source_etag, output_etag, bytes, clipped)
        WHERE o.object_id = r.object_id AND o.batch_id = @batch AND o.status = 'pending'
        """;

    private const string ClassObjectsSql = """
        SELECT label, count(*),
            count(*) FILTER (WHERE status = 'done'),
            count(*) FILTER (WHERE status = 'failed'),
            count(*) FILTER (WHERE status = 'dead'),
            COALESCE(sum(clipped) FILTER (WHERE status = 'done'), 0)::bigint,
            COALESCE(sum(bytes) FILTER (WHERE status = 'done'), 0)::bigint,
            count(*) FILTER (WHERE status IN ('done', 'failed') AND completed_at > now() - interval '60 seconds'),
            COALESCE(sum(bytes) FILTER (WHERE status = 'done' AND completed_at > now() - interval '60 seconds'), 0)::bigint
        FROM objects WHERE job_id = @job AND batch_id IS NOT NULL GROUP BY label
        """;

    private const string ClassBatchesSql = """
        SELECT label,
            (count(*) FILTER (WHERE state IN ('planned', 'pending')))::int,
            (count(*) FILTER (WHERE state = 'leased'))::int,
            (count(*) FILTER (WHERE state = 'done'))::int,
            (count(*) FILTER (WHERE state = 'dead'))::int,
            COALESCE(sum(GREATEST(attempts - 1, 0)), 0)::int
        FROM batches WHERE job_id = @job GROUP BY label
        """;

    private readonly NpgsqlDataSource _dataSource;
    private readonly string _description;
    private readonly string? _password;
    private readonly ConcurrentDictionary<Guid, JobDefinition> _definitions = new();

    /// <summary>Opens a ledger over an Npgsql connection string (<c>Host=...;Database=...</c>); nothing connects until first use.</summary>
    public PostgresWorkLedger(string connectionString)
        : this(ParseConnectionString(connectionString))
    {
    }

    internal PostgresWorkLedger(NpgsqlConnectionStringBuilder builder)
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
    public string Describe() => _description;

    /// <inheritdoc />
    public Task MigrateAsync(CancellationToken cancellationToken) =>
        ExecuteAsync("migrate", async (connection, ct) =>
        {
            await using var transaction = await connection.BeginTransactionAsync(ct);
            await using (var command = new NpgsqlCommand("SELECT pg_advisory_xact_lock(@key)", connection, transaction))
            {
                command.Parameters.AddWithValue("key", PostgresSchema.MigrationLockKey);
                await command.ExecuteNonQueryAsync(ct);
            }

            await using (var command = new NpgsqlCommand(PostgresSchema.Bootstrap, connection, transaction))
            {
                await command.ExecuteNonQueryAsync(ct);
            }

            var applied = new HashSet<int>();
            await using (var command = new NpgsqlCommand("SELECT version FROM schema_migrations", connection, transaction))
            await using (var reader = await command.ExecuteReaderAsync(ct))
            {
                while (await reader.ReadAsync(ct))
                {
                    applied.Add(reader.GetInt32(0));
                }
            }

            for (var i = 0; i < PostgresSchema.Migrations.Count; i++)
            {
                var version = i + 1;
                if (applied.Contains(version))
                {
                    continue;
                }

                await using (var command = new NpgsqlCommand(PostgresSchema.Migrations[i], connection, transaction))
                {
                    await command.ExecuteNonQueryAsync(ct);
                }

                await using (var command = new NpgsqlCommand("INSERT INTO schema_migrations (version) VALUES (@version)", connection, transaction))
                {
                    command.Parameters.AddWithValue("version", version);
                    await command.ExecuteNonQueryAsync(ct);
                }
            }

            await transaction.CommitAsync(ct);
            return true;
        }, cancellationToken);

    /// <inheritdoc />
    public Task<Guid> CreateJobAsync(JobDefinition definition, CancellationToken cancellationToken)
    {
        LedgerGuards.Definition(definition);
        var jobId = Guid.CreateVersion7();
        return ExecuteAsync("create a job", async (connection, ct) =>
        {
            const string Sql = """
                INSERT INTO jobs (job_id, state, source, destination, label_rule, spec, taps, patch_length, blur,
                    window_length, mode, spec_options, key_id, key_version, max_attempts, trace_parent)
                VALUES (@job, 'planning', @source, @destination, @rule, @spec, @taps, @patch, @blur,
                    @window, @mode, @spec_options, @key_id, @key_version, @max_attempts, @trace_parent)
                """;
            await using var command = new NpgsqlCommand(Sql, connection);
            command.Parameters.AddWithValue("job", jobId);
            AddDefinition(command, definition);
            command.Parameters.AddWithValue("max_attempts", definition.MaxAttempts);
            command.Parameters.AddWithValue("trace_parent", NpgsqlDbType.Text, (object?)definition.TraceParent ?? DBNull.Value);
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

        return ExecuteAsync("add objects", async (connection, ct) =>
        {
            await using var transaction = await connection.BeginTransactionAsync(ct);
            await LockPlanningJobAsync(connection, transaction, jobId, ct);

            var open = new Dictionary<string, BatchPlanner.OpenBatch>(StringComparer.Ordinal);
            const string OpenSql = """
                SELECT DISTINCT ON (label) label, batch_id, object_count FROM batches
                WHERE job_id = @job AND state = 'planned' ORDER BY label, batch_id DESC
                """;
            await using (var command = new NpgsqlCommand(OpenSql, connection, transaction))
            {
                command.Parameters.AddWithValue("job", jobId);
                await using var reader = await command.ExecuteReaderAsync(ct);
                while (await reader.ReadAsync(ct))
                {
                    open[reader.GetString(0)] = new BatchPlanner.OpenBatch(reader.GetInt64(1), reader.GetInt32(2));
                }
            }

            var chunks = BatchPlanner.Plan(objects, batchSize, open);
            var newBatches = chunks.Count(static c => c.ExistingBatchId is null);
            var ids = await AllocateBatchIdsAsync(connection, transaction, newBatches, ct);

            var batchIds = new long[chunks.Count];
            var insertIds = new List<long>(newBatches);
            var insertLabels = new List<string>(newBatches);
            var insertCounts = new List<int>(newBatches);
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
                    insertIds.Add(batchIds[i]);
                    insertLabels.Add(chunk.Label);
                    insertCounts.Add(chunk.Objects.Count);
                }
            }

            if (growIds.Count > 0)
            {
                const string GrowSql = """
                    UPDATE batches b SET object_count = b.object_count + r.n
                    FROM unnest(@ids, @counts) AS r(batch_id, n) WHERE b.batch_id = r.batch_id
                    """;
                await using var command = new NpgsqlCommand(GrowSql, connection, transaction);
                command.Parameters.AddWithValue("ids", growIds.ToArray());
                command.Parameters.AddWithValue("counts", growCounts.ToArray());
                await command.ExecuteNonQueryAsync(ct);
            }

            if (insertIds.Count > 0)
            {
                const string InsertSql = """
                    INSERT INTO batches (batch_id, job_id, label, state, object_count)
                    SELECT r.batch_id, @job, r.label, 'planned', r.n FROM unnest(@ids, @labels, @counts) AS r(batch_id, label, n)
                    """;
                await using var command = new NpgsqlCommand(InsertSql, connection, transaction);
                command.Parameters.AddWithValue("job", jobId);
                command.Parameters.AddWithValue("ids", insertIds.ToArray());
                command.Parameters.AddWithValue("labels", NpgsqlDbType.Array | NpgsqlDbType.Text, insertLabels.ToArray());
                command.Parameters.AddWithValue("counts", insertCounts.ToArray());
                await command.ExecuteNonQueryAsync(ct);
            }

            const string CopySql = "COPY objects (job_id, batch_id, key, label, size, source_etag) FROM STDIN (FORMAT BINARY)";
            await using (var importer = await connection.BeginBinaryImportAsync(CopySql, ct))
            {
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

            await transaction.CommitAsync(ct);
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

        return ExecuteAsync("record planning outcomes", async (connection, ct) =>
        {
            await using var transaction = await connection.BeginTransactionAsync(ct);
            await LockPlanningJobAsync(connection, transaction, jobId, ct);
            const string Sql = """
                INSERT INTO objects (job_id, key, label, size, status, reason, completed_at)
                SELECT @job, r.key, '', 0, r.status, r.reason, now() FROM unnest(@keys, @statuses, @reasons) AS r(key, status, reason)
                """;
            var keys = new string[outcomes.Count];
            var statuses = new string[outcomes.Count];
            var reasons = new string[outcomes.Count];
            for (var i = 0; i < outcomes.Count; i++)
            {
                keys[i] = outcomes[i].Key;
                statuses[i] = LedgerText.ToText(outcomes[i].Outcome);
                reasons[i] = LedgerText.Truncate(outcomes[i].Reason ?? string.Empty);
            }

            await using (var command = new NpgsqlCommand(Sql, connection, transaction))
            {
                command.Parameters.AddWithValue("job", jobId);
                command.Parameters.AddWithValue("keys", NpgsqlDbType.Array | NpgsqlDbType.Text, keys);
                command.Parameters.AddWithValue("statuses", NpgsqlDbType.Array | NpgsqlDbType.Text, statuses);
                command.Parameters.AddWithValue("reasons", NpgsqlDbType.Array | NpgsqlDbType.Text, reasons);
                await command.ExecuteNonQueryAsync(ct);
            }

            await transaction.CommitAsync(ct);
            return true;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task OpenPlannedBatchesAsync(Guid jobId, CancellationToken cancellationToken) =>
        ExecuteAsync("open planned batches", async (connection, ct) =>
        {
            await using var command = new NpgsqlCommand("UPDATE batches SET state = 'pending' WHERE job_id = @job AND state = 'planned'", connection);
            command.Parameters.AddWithValue("job", jobId);
            await command.ExecuteNonQueryAsync(ct);
            return true;
        }, cancellationToken);

    /// <inheritdoc />
    public Task StartJobAsync(Guid jobId, CancellationToken cancellationToken) =>
        ExecuteAsync("start a job", async (connection, ct) =>
        {
            const string Sql = """
                WITH started AS (
                    UPDATE jobs SET state = 'running', started_at = now()
                    WHERE job_id = @job AND state = 'planning'
                    RETURNING job_id),
                released AS (
                    UPDATE batches b SET state = 'pending'
                    FROM started s WHERE b.job_id = s.job_id AND b.state = 'planned')
                SELECT state FROM jobs WHERE job_id = @job
                """;
            await using var command = new NpgsqlCommand(Sql, connection);
            command.Parameters.AddWithValue("job", jobId);
            if (await command.ExecuteScalarAsync(ct) is not string)
            {
                throw new ArgumentException($"The ledger has no job {jobId}.", nameof(jobId));
            }

            return true;
        }, cancellationToken);

    /// <inheritdoc />
    public Task<JobRecord?> GetJobAsync(Guid jobId, CancellationToken cancellationToken) =>
        ExecuteAsync("read a job", (connection, ct) => ReadJobAsync(connection, jobId, ct), cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<JobRecord>> ListJobsAsync(CancellationToken cancellationToken) =>
        ExecuteAsync<IReadOnlyList<JobRecord>>("list jobs", async (connection, ct) =>
        {
            await using var command = new NpgsqlCommand($"SELECT {LedgerRows.JobColumns} FROM jobs ORDER BY created_at DESC, job_id DESC", connection);
            await using var reader = await command.ExecuteReaderAsync(ct);
            var jobs = new List<JobRecord>();
            while (await reader.ReadAsync(ct))
            {
                jobs.Add(LedgerRows.ReadJob(reader, LedgerRows.PostgresTime));
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
                ORDER BY created_at DESC, job_id DESC
                LIMIT 1
                """;
            await using var command = new NpgsqlCommand(Sql, connection);
            AddDefinition(command, definition);
            return await command.ExecuteScalarAsync(ct) is Guid id ? id : null;
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
        return ExecuteAsync("claim a batch", async (connection, ct) =>
        {
            long batchId = 0;
            var claimedJob = Guid.Empty;
            string? label = null;
            var attempt = 0;
            var expiresAt = default(DateTimeOffset);
            var objects = new List<BatchObject>();
            await using (var command = new NpgsqlCommand(jobId is null ? ClaimAnySql : onlyLabel is null ? ClaimJobSql : ClaimClassSql, connection))
            {
                command.Parameters.AddWithValue("token", token);
                command.Parameters.AddWithValue("worker", workerId);
                command.Parameters.AddWithValue("duration", leaseDuration);
                if (jobId is { } id)
                {
                    command.Parameters.AddWithValue("job", id);
                }

                if (onlyLabel is not null)
                {
                    command.Parameters.AddWithValue("label", onlyLabel);
                }

                await using var reader = await command.ExecuteReaderAsync(ct);
                while (await reader.ReadAsync(ct))
                {
                    if (label is null)
                    {
                        batchId = reader.GetInt64(0);
                        claimedJob = reader.GetGuid(1);
                        label = reader.GetString(2);
                        attempt = reader.GetInt32(3);
                        expiresAt = reader.GetFieldValue<DateTimeOffset>(4);
                    }

                    if (!reader.IsDBNull(5))
                    {
                        objects.Add(new BatchObject(
                            reader.GetInt64(5), reader.GetString(6), reader.GetInt64(7), reader.IsDBNull(8) ? null : reader.GetString(8)));
                    }
                }
            }

            if (label is null)
            {
                return null;
            }

            var definition = await GetDefinitionAsync(connection, claimedJob, ct);
            return new BatchLease(claimedJob, definition, batchId, label, token, attempt, expiresAt, objects);
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<DateTimeOffset> HeartbeatAsync(BatchLease lease, TimeSpan leaseDuration, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(lease);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(leaseDuration, TimeSpan.Zero);
        return ExecuteAsync("heartbeat a lease", async (connection, ct) =>
        {
            const string Sql = """
                UPDATE batches SET lease_expires_at = now() + @duration
                WHERE batch_id = @batch AND lease_token = @token AND state = 'leased'
                RETURNING lease_expires_at
                """;
            await using var command = new NpgsqlCommand(Sql, connection);
            command.Parameters.AddWithValue("duration", leaseDuration);
            command.Parameters.AddWithValue("batch", lease.BatchId);
            command.Parameters.AddWithValue("token", lease.LeaseToken);
            await using var reader = await command.ExecuteReaderAsync(ct);
            return await reader.ReadAsync(ct)
                ? reader.GetFieldValue<DateTimeOffset>(0)
                : throw new LeaseLostException(lease.BatchId);
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task CompleteBatchAsync(BatchLease lease, IReadOnlyList<ObjectResult> results, CancellationToken cancellationToken)
    {
        LedgerGuards.Results(lease, results);
        return ExecuteAsync("complete a batch", async (connection, ct) =>
        {
            await using var transaction = await connection.BeginTransactionAsync(ct);
            const string FenceSql = """
                UPDATE batches SET state = 'done', completed_at = now(), lease_token = NULL, lease_expires_at = NULL
                WHERE batch_id = @batch AND lease_token = @token AND state = 'leased'
                """;
            await using (var fence = new NpgsqlCommand(FenceSql, connection, transaction))
            {
                fence.Parameters.AddWithValue("batch", lease.BatchId);
                fence.Parameters.AddWithValue("token", lease.LeaseToken);
                if (await fence.ExecuteNonQueryAsync(ct) == 0)
                {
                    await transaction.RollbackAsync(ct);
                    throw new LeaseLostException(lease.BatchId);
                }
            }

            await using var batch = new NpgsqlBatch(connection, transaction);
            var update = new NpgsqlBatchCommand(CompleteObjectsSql);
            AddResults(update.Parameters, lease.BatchId, results);
            batch.BatchCommands.Add(update);
            var leftover = new NpgsqlBatchCommand("""
                UPDATE objects SET status = 'failed', reason = 'the batch was completed without a result for this object',
                    completed_at = now()
                WHERE batch_id = @batch AND status = 'pending'
                """);
            leftover.Parameters.AddWithValue("batch", lease.BatchId);
            batch.BatchCommands.Add(leftover);
            await batch.ExecuteNonQueryAsync(ct);
            if (update.RecordsAffected != results.Count)
            {
                await transaction.RollbackAsync(ct);
                throw new ArgumentException(
                    $"Some results name objects that are not pending in batch {lease.BatchId}; nothing was recorded.", nameof(results));
            }

            await transaction.CommitAsync(ct);
            return true;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task ReleaseBatchAsync(BatchLease lease, string? error, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(lease);
        return ExecuteAsync("release a batch", async (connection, ct) =>
        {
            const string VoluntarySql = """
                UPDATE batches SET state = 'pending', attempts = GREATEST(attempts - 1, 0),
                    lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL
                WHERE batch_id = @batch AND lease_token = @token AND state = 'leased'
                RETURNING state
                """;
            await using var command = new NpgsqlCommand(error is null ? VoluntarySql : ReleaseWithErrorSql, connection);
            command.Parameters.AddWithValue("batch", lease.BatchId);
            command.Parameters.AddWithValue("token", lease.LeaseToken);
            if (error is not null)
            {
                command.Parameters.AddWithValue("error", NpgsqlDbType.Text, LedgerText.Truncate(error));
            }

            return await command.ExecuteScalarAsync(ct) is string
                ? true
                : throw new LeaseLostException(lease.BatchId);
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<bool> TryAcquireLeadershipAsync(string holderId, TimeSpan ttl, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(holderId);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ttl, TimeSpan.Zero);
        return ExecuteAsync("take the coordinator lease", async (connection, ct) =>
        {
            const string Sql = """
                INSERT INTO coordinator_lease (id, holder, expires_at) VALUES (1, @holder, now() + @ttl)
                ON CONFLICT (id) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
                WHERE coordinator_lease.holder = EXCLUDED.holder OR coordinator_lease.expires_at < now()
                RETURNING holder
                """;
            await using var command = new NpgsqlCommand(Sql, connection);
            command.Parameters.AddWithValue("holder", holderId);
            command.Parameters.AddWithValue("ttl", ttl);
            return await command.ExecuteScalarAsync(ct) is string holder && holder == holderId;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<MaintenanceResult> RescueExpiredLeasesAsync(CancellationToken cancellationToken) =>
        ExecuteAsync("rescue expired leases", async (connection, ct) =>
        {
            await using var command = new NpgsqlCommand(RescueSql, connection);
            await using var reader = await command.ExecuteReaderAsync(ct);
            await reader.ReadAsync(ct);
            return new MaintenanceResult(reader.GetInt32(0), reader.GetInt32(1));
        }, cancellationToken);

    /// <inheritdoc />
    public Task<int> ResetLeasesAsync(Guid jobId, CancellationToken cancellationToken) =>
        ExecuteAsync("reset leases", async (connection, ct) =>
        {
            const string Sql = """
                UPDATE batches SET state = 'pending', attempts = GREATEST(attempts - 1, 0),
                    lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL
                WHERE job_id = @job AND state = 'leased'
                """;
            await using var command = new NpgsqlCommand(Sql, connection);
            command.Parameters.AddWithValue("job", jobId);
            return await command.ExecuteNonQueryAsync(ct);
        }, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<Guid>> CompleteFinishedJobsAsync(CancellationToken cancellationToken) =>
        ExecuteAsync<IReadOnlyList<Guid>>("complete finished jobs", async (connection, ct) =>
        {
            const string Sql = """
                UPDATE jobs j SET state = 'completed', finished_at = now()
                WHERE j.state = 'running'
                    AND NOT EXISTS (SELECT 1 FROM batches b WHERE b.job_id = j.job_id AND b.state NOT IN ('done', 'dead'))
                RETURNING j.job_id
                """;
            await using var command = new NpgsqlCommand(Sql, connection);
            await using var reader = await command.ExecuteReaderAsync(ct);
            var jobs = new List<Guid>();
            while (await reader.ReadAsync(ct))
            {
                jobs.Add(reader.GetGuid(0));
            }

            return jobs;
        }, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<Guid>> FindFinishedJobsAsync(CancellationToken cancellationToken) =>
        ExecuteAsync<IReadOnlyList<Guid>>("find finished jobs", async (connection, ct) =>
        {
            const string Sql = """
                SELECT j.job_id FROM jobs j
                WHERE j.state = 'running'
                    AND NOT EXISTS (SELECT 1 FROM batches b WHERE b.job_id = j.job_id AND b.state NOT IN ('done', 'dead'))
                ORDER BY j.created_at
                """;
            await using var command = new NpgsqlCommand(Sql, connection);
            await using var reader = await command.ExecuteReaderAsync(ct);
            var jobs = new List<Guid>();
            while (await reader.ReadAsync(ct))
            {
                jobs.Add(reader.GetGuid(0));
            }

            return jobs;
        }, cancellationToken);

    /// <inheritdoc />
    public Task<bool> CompleteJobAsync(Guid jobId, CancellationToken cancellationToken) =>
        ExecuteAsync("complete a job", async (connection, ct) =>
        {
            const string Sql = """
                UPDATE jobs j SET state = 'completed', finished_at = now()
                WHERE j.job_id = @job AND j.state = 'running'
                    AND NOT EXISTS (SELECT 1 FROM batches b WHERE b.job_id = j.job_id AND b.state NOT IN ('done', 'dead'))
                """;
            await using var command = new NpgsqlCommand(Sql, connection);
            command.Parameters.AddWithValue("job", jobId);
            return await command.ExecuteNonQueryAsync(ct) == 1;
        }, cancellationToken);

    /// <inheritdoc />
    public Task<JobStatus?> GetJobStatusAsync(Guid jobId, CancellationToken cancellationToken) =>
        ExecuteAsync("read a job's status", async (connection, ct) =>
        {
            var job = await ReadJobAsync(connection, jobId, ct);
            if (job is null)
            {
                return null;
            }

            var tally = new JobTally();
            await using var batch = new NpgsqlBatch(connection);
            batch.BatchCommands.Add(WithJob(new NpgsqlBatchCommand(ClassObjectsSql), jobId));
            batch.BatchCommands.Add(WithJob(new NpgsqlBatchCommand(ClassBatchesSql), jobId));
            batch.BatchCommands.Add(WithJob(new NpgsqlBatchCommand(
                "SELECT batch_id, label, attempts, last_error FROM batches WHERE job_id = @job AND state = 'dead' ORDER BY batch_id"), jobId));
            await using var reader = await batch.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                tally.AddObjects(
                    reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4),
                    reader.GetInt64(5), reader.GetInt64(6), reader.GetInt64(7), reader.GetInt64(8));
            }

            await reader.NextResultAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                tally.AddBatches(
                    reader.GetString(0), reader.GetInt32(1), reader.GetInt32(2), reader.GetInt32(3), reader.GetInt32(4), reader.GetInt32(5));
            }

            await reader.NextResultAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                tally.DeadLetters.Add(new DeadLetter(
                    reader.GetInt64(0), reader.GetString(1), reader.GetInt32(2), reader.IsDBNull(3) ? null : reader.GetString(3)));
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
        NpgsqlConnection connection;
        try
        {
            connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        }
        catch (NpgsqlException e)
        {
            throw Translate("read objects", e);
        }

        await using (connection)
        {
            await using var command = new NpgsqlCommand(Sql, connection);
            command.Parameters.AddWithValue("job", jobId);
            NpgsqlDataReader reader;
            try
            {
                reader = await command.ExecuteReaderAsync(cancellationToken);
            }
            catch (NpgsqlException e)
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
                        // A buffered row is returned without looking at the token; look first.
                        cancellationToken.ThrowIfCancellationRequested();
                        if (!await reader.ReadAsync(cancellationToken))
                        {
                            break;
                        }

                        record = LedgerRows.ReadObject(reader, LedgerRows.PostgresTime);
                    }
                    catch (NpgsqlException e)
                    {
                        throw Translate("read objects", e);
                    }

                    yield return record;
                }
            }
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();

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

    private static void AddDefinition(NpgsqlCommand command, JobDefinition definition)
    {
        var parameters = definition.Parameters;
        command.Parameters.AddWithValue("source", definition.Source);
        command.Parameters.AddWithValue("destination", definition.Destination);
        command.Parameters.AddWithValue("rule", definition.LabelRule);
        command.Parameters.AddWithValue("spec", parameters.Spec);
        command.Parameters.AddWithValue("taps", parameters.Taps);
        command.Parameters.AddWithValue("patch", parameters.PatchLength);
        command.Parameters.AddWithValue("blur", parameters.Blur);
        command.Parameters.AddWithValue("window", parameters.Window);
        command.Parameters.AddWithValue("mode", LedgerText.ToText(parameters.Mode));
        command.Parameters.AddWithValue("spec_options", parameters.Spec == PoscudaV2.SpecName ? parameters.Code.ToText() : "");
        command.Parameters.AddWithValue("key_id", definition.KeyId);
        command.Parameters.AddWithValue("key_version", definition.KeyVersion);
    }

    private static void AddResults(NpgsqlParameterCollection parameters, long batchId, IReadOnlyList<ObjectResult> results)
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

        parameters.AddWithValue("batch", batchId);
        parameters.AddWithValue("ids", ids);
        parameters.AddWithValue("statuses", NpgsqlDbType.Array | NpgsqlDbType.Text, statuses);
        parameters.AddWithValue("reasons", NpgsqlDbType.Array | NpgsqlDbType.Text, reasons);
        parameters.AddWithValue("versions", versions);
        parameters.AddWithValue("source_etags", NpgsqlDbType.Array | NpgsqlDbType.Text, sourceETags);
        parameters.AddWithValue("output_etags", NpgsqlDbType.Array | NpgsqlDbType.Text, outputETags);
        parameters.AddWithValue("bytes", bytes);
        parameters.AddWithValue("clipped", clipped);
    }

    private static NpgsqlBatchCommand WithJob(NpgsqlBatchCommand command, Guid jobId)
    {
        command.Parameters.AddWithValue("job", jobId);
        return command;
    }

    private static async Task LockPlanningJobAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid jobId, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand("SELECT state FROM jobs WHERE job_id = @job FOR UPDATE", connection, transaction);
        command.Parameters.AddWithValue("job", jobId);
        switch (await command.ExecuteScalarAsync(ct))
        {
            case null:
                throw new ArgumentException($"The ledger has no job {jobId}.", nameof(jobId));
            case string state when state != "planning":
                throw new InvalidOperationException($"Job {jobId} is {state}; objects can only be added while it is planning.");
        }
    }

    private static async Task<long[]> AllocateBatchIdsAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, int count, CancellationToken ct)
    {
        var ids = new long[count];
        if (count == 0)
        {
            return ids;
        }

        const string Sql = "SELECT nextval(pg_get_serial_sequence('batches', 'batch_id')) FROM generate_series(1, @n)";
        await using var command = new NpgsqlCommand(Sql, connection, transaction);
        command.Parameters.AddWithValue("n", count);
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

    private async Task<JobRecord?> ReadJobAsync(NpgsqlConnection connection, Guid jobId, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand($"SELECT {LedgerRows.JobColumns} FROM jobs WHERE job_id = @job", connection);
        command.Parameters.AddWithValue("job", jobId);
        await using var reader = await command.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct))
        {
            return null;
        }

        var job = LedgerRows.ReadJob(reader, LedgerRows.PostgresTime);
        _definitions.TryAdd(jobId, job.Definition);
        return job;
    }

    private async Task<JobDefinition> GetDefinitionAsync(NpgsqlConnection connection, Guid jobId, CancellationToken ct)
    {
        if (_definitions.TryGetValue(jobId, out var definition))
        {
            return definition;
        }

        var job = await ReadJobAsync(connection, jobId, ct);
        return job?.Definition ?? throw new PosCudaException($"Batch of job {jobId} has no job row in the ledger.");
    }

    private async Task<T> ExecuteAsync<T>(string operation, Func<NpgsqlConnection, CancellationToken, Task<T>> body, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
            return await body(connection, cancellationToken);
        }
        catch (NpgsqlException e)
        {
            throw Translate(operation, e);
        }
    }

    private PosCudaException Translate(string operation, NpgsqlException e)
    {
        var transient = IsTransient(e);
        if (transient && IsConnectionLoss(e))
        {
            // Every idle connection died with the server: drop them so the next call opens fresh ones.
            _dataSource.Clear();
        }

        var detail = e is PostgresException pg ? $"{pg.SqlState}: {pg.MessageText}" : e.Message;
        if (_password is not null)
        {
            detail = detail.Replace(_password, "***", StringComparison.Ordinal);
        }

        return new PosCudaException($"The work ledger at {_description} could not {operation}: {detail}", transient, e);
    }
}
