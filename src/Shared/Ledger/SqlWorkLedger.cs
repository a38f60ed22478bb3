using System.Collections.Concurrent;
using System.Data.Common;
using System.Runtime.CompilerServices;
using PosCuda.Shared.Protection;

namespace PosCuda.Shared.Ledger;

/// <summary>The work ledger's control flow over ADO.NET, written once for PostgreSQL and SQLite.</summary>
/// <remarks>
/// Each database supplies its SQL catalogue (<see cref="LedgerSql"/>) and a few explicit hooks: how it opens a connection
/// and a write transaction (SQLite's write gate and <c>BEGIN IMMEDIATE</c>), how it binds ids and durations, how it claims a
/// batch, how it writes rows in bulk (PostgreSQL <c>COPY</c> and arrays, SQLite <c>json_each</c>), and which errors are
/// transient. Everything else (migration loop, definitions cache, planning lock, fencing, dead-lettering, tallies,
/// object streaming) is here.
/// </remarks>
public abstract class SqlWorkLedger : IWorkLedger
{
    private const string JobSql = $"SELECT {LedgerRows.JobColumns} FROM jobs WHERE job_id = @job";
    private const string OpenPlannedSql = "UPDATE batches SET state = 'pending' WHERE job_id = @job AND state = 'planned'";
    private const string DeadLettersSql = "SELECT batch_id, label, attempts, last_error FROM batches WHERE job_id = @job AND state = 'dead' ORDER BY batch_id";
    private const string ObjectsSql = $"SELECT {LedgerRows.ObjectColumns} FROM objects WHERE job_id = @job ORDER BY key";
    private const string PlannedObjectsSql = """
        SELECT max(key), count(batch_id),
            COALESCE(sum(CASE WHEN batch_id IS NULL AND status = 'skipped' THEN 1 ELSE 0 END), 0),
            COALESCE(sum(CASE WHEN batch_id IS NULL AND status = 'failed' THEN 1 ELSE 0 END), 0)
        FROM objects WHERE job_id = @job
        """;

    /// <summary>The unfinished jobs with the definition's parameters (attempt limit and trace parent not compared).</summary>
    private protected const string SameDefinitionSql = """
        SELECT job_id FROM jobs
        WHERE state <> 'completed' AND source = @source AND destination = @destination AND label_rule = @rule
            AND spec = @spec AND taps = @taps AND patch_length = @patch AND blur = @blur AND window_length = @window AND spec_options = @spec_options
            AND operation = @operation
            AND mode = @mode AND key_id = @key_id AND key_version = @key_version
        """;

    /// <summary>
    /// The most bytes of object keys a merged lease holds: its grant carries every key to the worker in one message, which must
    /// stay well inside the engine's 4 MiB frame (S3 keys run to 1 KiB each; a batch as planned is never cut).
    /// </summary>
    internal const long MergeKeyBytes = 1L << 20;

    // A merge (see MergeIntoAsync): the objects of batch @from move to batch @into, @from's row goes, @into grows by @n.
    private const string MoveObjectsSql = "UPDATE objects SET batch_id = @into WHERE batch_id = @from";
    private const string DropBatchSql = "DELETE FROM batches WHERE batch_id = @from AND state = 'pending' AND attempts = 0";
    private const string GrowBatchSql = "UPDATE batches SET object_count = object_count + @n WHERE batch_id = @batch";

    /// <summary>The pending objects of batch <c>@batch</c>: object_id, key, size, source_etag, by key.</summary>
    private protected const string PendingObjectsSql =
        "SELECT object_id, key, size, source_etag FROM objects WHERE batch_id = @batch AND status = 'pending' ORDER BY key";

    private const string PlannedLabelsSql = "SELECT label, count(*) FROM batches WHERE job_id = @job GROUP BY label ORDER BY label";

    private readonly LedgerSql _sql;
    private readonly TimeColumn _time;
    private readonly ConcurrentDictionary<Guid, JobDefinition> _definitions = new();

    private protected SqlWorkLedger(LedgerSql sql, TimeColumn time)
    {
        _sql = sql;
        _time = time;
    }

    /// <inheritdoc />
    public abstract string Describe();

    /// <inheritdoc />
    public virtual Task MigrateAsync(CancellationToken cancellationToken) =>
        WriteAsync("migrate", async (connection, transaction, ct) =>
        {
            if (_sql.MigrationLock is { } lockSql)
            {
                await ExecuteAsync(connection, transaction, lockSql, ct);
            }

            await ExecuteAsync(connection, transaction, _sql.Bootstrap, ct);
            var applied = new HashSet<long>();
            await using (var command = Command(connection, transaction, "SELECT version FROM schema_migrations"))
            await using (var reader = await command.ExecuteReaderAsync(ct))
            {
                while (await reader.ReadAsync(ct))
                {
                    applied.Add(Convert.ToInt64(reader.GetValue(0), System.Globalization.CultureInfo.InvariantCulture));
                }
            }

            for (var i = 0; i < _sql.Migrations.Count; i++)
            {
                var version = i + 1;
                if (!applied.Contains(version))
                {
                    await ExecuteAsync(connection, transaction, _sql.Migrations[i], ct);
                    await using var record = Command(connection, transaction, "INSERT INTO schema_migrations (version) VALUES (@version)")
                        .With("@version", version);
                    await record.ExecuteNonQueryAsync(ct);
                }
            }

            return true;
        }, atomic: true, cancellationToken);

    /// <inheritdoc />
    public Task<Guid> CreateJobAsync(JobDefinition definition, CancellationToken cancellationToken)
    {
        LedgerGuards.Definition(definition);
        var jobId = Guid.CreateVersion7();
        return WriteAsync("create a job", async (connection, transaction, ct) =>
        {
            await using var command = WithDefinition(Command(connection, transaction, _sql.CreateJob), definition)
                .With("@job", Id(jobId))
                .With("@max_attempts", definition.MaxAttempts)
                .With("@trace_parent", definition.TraceParent);
            await command.ExecuteNonQueryAsync(ct);
            _definitions[jobId] = definition;
            return jobId;
        }, atomic: false, cancellationToken);
    }

    /// <inheritdoc />
    public Task AddObjectsAsync(Guid jobId, IReadOnlyList<PlannedObject> objects, int batchSize, CancellationToken cancellationToken) =>
        PlanObjectsAsync(jobId, objects, [], batchSize, cancellationToken);

    /// <inheritdoc />
    public Task RecordPlanningOutcomesAsync(Guid jobId, IReadOnlyList<PlanningOutcome> outcomes, CancellationToken cancellationToken) =>
        PlanObjectsAsync(jobId, [], outcomes, batchSize: 1, cancellationToken);

    /// <inheritdoc />
    public Task<int> PlanObjectsAsync(
        Guid jobId, IReadOnlyList<PlannedObject> objects, IReadOnlyList<PlanningOutcome> outcomes, int batchSize, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(objects);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        LedgerGuards.PlanningOutcomes(outcomes);
        if (objects.Count == 0 && outcomes.Count == 0)
        {
            return Task.FromResult(0);
        }

        return WriteAsync("plan objects", async (connection, transaction, ct) =>
        {
            await EnsurePlanningAsync(connection, transaction!, jobId, ct);
            var created = 0;
            if (objects.Count > 0)
            {
                var open = new Dictionary<string, BatchPlanner.OpenBatch>(StringComparer.Ordinal);
                await using (var command = Command(connection, transaction, _sql.OpenBatches).With("@job", Id(jobId)))
                await using (var reader = await command.ExecuteReaderAsync(ct))
                {
                    while (await reader.ReadAsync(ct))
                    {
                        open[reader.GetString(0)] = new BatchPlanner.OpenBatch(reader.GetInt64(1), reader.GetInt32(2));
                    }
                }

                var chunks = BatchPlanner.Plan(objects, batchSize, open);
                await InsertPlannedAsync(connection, transaction!, jobId, chunks, ct);
                created = BatchPlanner.NewBatches(chunks);
            }

            if (outcomes.Count > 0)
            {
                await InsertOutcomesAsync(connection, transaction!, jobId, outcomes, ct);
            }

            return created;
        }, atomic: true, cancellationToken);
    }

    /// <inheritdoc />
    public Task<PlanningProgress> GetPlanningProgressAsync(Guid jobId, CancellationToken cancellationToken) =>
        ReadAsync("read planning progress", async (connection, transaction, ct) =>
        {
            string? lastKey;
            long planned, skipped, failed;
            await using (var command = Command(connection, transaction, PlannedObjectsSql).With("@job", Id(jobId)))
            await using (var reader = await command.ExecuteReaderAsync(ct))
            {
                await reader.ReadAsync(ct);
                lastKey = reader.IsDBNull(0) ? null : reader.GetString(0);
                planned = reader.GetInt64(1);
                skipped = reader.GetInt64(2);
                failed = reader.GetInt64(3);
            }

            long batches = 0;
            var labels = new List<string>();
            await using (var command = Command(connection, transaction, PlannedLabelsSql).With("@job", Id(jobId)))
            await using (var reader = await command.ExecuteReaderAsync(ct))
            {
                while (await reader.ReadAsync(ct))
                {
                    labels.Add(reader.GetString(0));
                    batches += reader.GetInt64(1);
                }
            }

            return new PlanningProgress(lastKey, planned, batches, skipped, failed, labels);
        }, cancellationToken);

    /// <inheritdoc />
    public Task OpenPlannedBatchesAsync(Guid jobId, CancellationToken cancellationToken) =>
        WriteAsync("open planned batches", async (connection, transaction, ct) =>
        {
            await using var command = Command(connection, transaction, OpenPlannedSql).With("@job", Id(jobId));
            return await command.ExecuteNonQueryAsync(ct);
        }, atomic: false, cancellationToken);

    /// <inheritdoc />
    public Task StartJobAsync(Guid jobId, CancellationToken cancellationToken) =>
        WriteAsync("start a job", async (connection, transaction, ct) =>
        {
            if (await ReadPlanningStateAsync(connection, transaction!, jobId, ct) != "planning")
            {
                return false;
            }

            await using (var start = Command(connection, transaction, _sql.StartJob).With("@job", Id(jobId)))
            {
                await start.ExecuteNonQueryAsync(ct);
            }

            await using var open = Command(connection, transaction, OpenPlannedSql).With("@job", Id(jobId));
            await open.ExecuteNonQueryAsync(ct);
            return true;
        }, atomic: true, cancellationToken);

    /// <inheritdoc />
    public Task<JobRecord?> GetJobAsync(Guid jobId, CancellationToken cancellationToken) =>
        ExecuteAsync("read a job", (connection, ct) => ReadJobAsync(connection, null, jobId, ct), cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<JobRecord>> ListJobsAsync(CancellationToken cancellationToken) =>
        ReadListAsync("list jobs", _sql.ListJobs, reader => LedgerRows.ReadJob(reader, _time), cancellationToken);

    /// <inheritdoc />
    public Task<Guid?> FindJobAsync(JobDefinition definition, CancellationToken cancellationToken)
    {
        LedgerGuards.Definition(definition);
        return ExecuteAsync<Guid?>("find a job", async (connection, ct) =>
        {
            await using var command = WithDefinition(Command(connection, null, _sql.FindJob), definition);
            await using var reader = await command.ExecuteReaderAsync(ct);
            return await reader.ReadAsync(ct) ? reader.GetGuid(0) : null;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<BatchLease?> ClaimBatchAsync(string workerId, TimeSpan leaseDuration, Guid? jobId, CancellationToken cancellationToken)
        => ClaimLeaseAsync(workerId, leaseDuration, jobId, null, mergeUpTo: 0, cancellationToken);

    /// <inheritdoc />
    public Task<BatchLease?> ClaimClassBatchAsync(string workerId, TimeSpan leaseDuration, Guid jobId, string label, CancellationToken cancellationToken)
        => ClaimClassBatchAsync(workerId, leaseDuration, jobId, label, mergeUpTo: 0, cancellationToken);

    /// <inheritdoc />
    public Task<BatchLease?> ClaimClassBatchAsync(
        string workerId, TimeSpan leaseDuration, Guid jobId, string label, int mergeUpTo, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(label);
        ArgumentOutOfRangeException.ThrowIfNegative(mergeUpTo);
        return ClaimLeaseAsync(workerId, leaseDuration, jobId, label, mergeUpTo, cancellationToken);
    }

    private Task<BatchLease?> ClaimLeaseAsync(
        string workerId, TimeSpan leaseDuration, Guid? jobId, string? label, int mergeUpTo, CancellationToken cancellationToken)
    {
        LedgerGuards.Claim(workerId, leaseDuration);
        var token = Guid.CreateVersion7();
        return WriteAsync("claim a batch", async (connection, transaction, ct) =>
        {
            if (await ClaimAsync(connection, transaction, workerId, leaseDuration, jobId, label, token, ct) is not { } claimed)
            {
                return null;
            }

            // A retried batch is not grown: should it fail again, the objects merged into it would share its attempt count.
            if (mergeUpTo > claimed.Objects.Count && claimed.Attempt == 1)
            {
                claimed = await MergeIntoAsync(connection, transaction!, claimed, mergeUpTo, ct);
            }

            var definition = await GetDefinitionAsync(connection, transaction, claimed.JobId, ct);
            return new BatchLease(
                claimed.JobId, definition, claimed.BatchId, claimed.Label, token, claimed.Attempt, claimed.ExpiresAt, claimed.Objects);
        }, atomic: mergeUpTo > 0, cancellationToken);
    }

    // Moves the objects of the class's next never-attempted pending batches into the claimed one while they fit, drops their rows,
    // and reads the claimed batch's pending objects again. Runs inside the claim's transaction.
    private async Task<ClaimedBatch> MergeIntoAsync(
        DbConnection connection, DbTransaction transaction, ClaimedBatch claimed, int mergeUpTo, CancellationToken ct)
    {
        int room = mergeUpTo - claimed.Objects.Count;
        long keyRoom = MergeKeyBytes - claimed.Objects.Sum(o => (long)System.Text.Encoding.UTF8.GetByteCount(o.Key));
        var merged = new List<long>();
        int moved = 0;
        long keyBytes = 0;
        await using (var candidates = Command(connection, transaction, _sql.MergeCandidates)
            .With("@job", Id(claimed.JobId)).With("@label", claimed.Label).With("@batch", claimed.BatchId))
        await using (var reader = await candidates.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                int count = reader.GetInt32(1);
                long keys = reader.GetInt64(2);
                if (moved + count > room || keyBytes + keys > keyRoom)
                {
                    break;
                }

                merged.Add(reader.GetInt64(0));
                moved += count;
                keyBytes += keys;
            }
        }

        if (merged.Count == 0)
        {
            return claimed;
        }

        await using (var move = Command(connection, transaction, MoveObjectsSql).With("@into", claimed.BatchId).With("@from", 0L))
        await using (var drop = Command(connection, transaction, DropBatchSql).With("@from", 0L))
        {
            foreach (long from in merged)
            {
                move.Parameters["@from"].Value = from;
                await move.ExecuteNonQueryAsync(ct);
                drop.Parameters["@from"].Value = from;
                await drop.ExecuteNonQueryAsync(ct);
            }
        }

        await using (var grow = Command(connection, transaction, GrowBatchSql).With("@batch", claimed.BatchId).With("@n", moved))
        {
            await grow.ExecuteNonQueryAsync(ct);
        }

        var objects = new List<BatchObject>(claimed.Objects.Count + moved);
        await using (var read = Command(connection, transaction, PendingObjectsSql).With("@batch", claimed.BatchId))
        await using (var reader = await read.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                objects.Add(new BatchObject(reader.GetInt64(0), reader.GetString(1), reader.GetInt64(2), reader.IsDBNull(3) ? null : reader.GetString(3)));
            }
        }

        return claimed with { Objects = objects };
    }

    /// <inheritdoc />
    public Task<DateTimeOffset> HeartbeatAsync(BatchLease lease, TimeSpan leaseDuration, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(lease);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(leaseDuration, TimeSpan.Zero);
        return WriteAsync("heartbeat a lease", async (connection, transaction, ct) =>
        {
            await using var command = Command(connection, transaction, _sql.Heartbeat)
                .With("@duration", Duration(leaseDuration))
                .With("@batch", lease.BatchId)
                .With("@token", Id(lease.LeaseToken));
            await using var reader = await command.ExecuteReaderAsync(ct);
            return await reader.ReadAsync(ct) ? _time(reader, 0) : throw new LeaseLostException(lease.BatchId);
        }, atomic: false, cancellationToken);
    }

    /// <inheritdoc />
    public Task CompleteBatchAsync(BatchLease lease, IReadOnlyList<ObjectResult> results, CancellationToken cancellationToken)
    {
        LedgerGuards.Results(lease, results);
        return WriteAsync("complete a batch", async (connection, transaction, ct) =>
        {
            // The fence goes first; a lost lease throws and the transaction rolls back with nothing written.
            await using (var fence = Command(connection, transaction, _sql.FenceBatch).With("@batch", lease.BatchId).With("@token", Id(lease.LeaseToken)))
            {
                if (await fence.ExecuteNonQueryAsync(ct) == 0)
                {
                    throw new LeaseLostException(lease.BatchId);
                }
            }

            if (await UpdateResultsAsync(connection, transaction!, lease.BatchId, results, ct) != results.Count)
            {
                throw new ArgumentException(
                    $"Some results name objects that are not pending in batch {lease.BatchId}; nothing was recorded.", nameof(results));
            }

            await using var leftover = Command(connection, transaction, _sql.FailLeftovers).With("@batch", lease.BatchId);
            await leftover.ExecuteNonQueryAsync(ct);
            return true;
        }, atomic: true, cancellationToken);
    }

    /// <inheritdoc />
    public Task ReleaseBatchAsync(long batchId, Guid leaseToken, string? error, CancellationToken cancellationToken)
    {
        var lastError = error is null ? null : LedgerText.Truncate(error);
        return WriteAsync("release a batch", async (connection, transaction, ct) =>
        {
            string state;
            int attempts;
            await using (var command = Command(connection, transaction, lastError is null ? _sql.ReleaseVoluntary : _sql.ReleaseWithError)
                .With("@batch", batchId)
                .With("@token", Id(leaseToken)))
            {
                if (lastError is not null)
                {
                    command.With("@error", lastError);
                }

                await using var reader = await command.ExecuteReaderAsync(ct);
                if (!await reader.ReadAsync(ct))
                {
                    throw new LeaseLostException(batchId);
                }

                state = reader.GetString(0);
                attempts = reader.GetInt32(1);
            }

            if (state == "dead")
            {
                await KillObjectsAsync(connection, transaction, batchId, LedgerText.DeadObjectReason(attempts, lastError), ct);
            }

            return true;
        }, atomic: true, cancellationToken);
    }

    /// <inheritdoc />
    public Task<MaintenanceResult> RescueExpiredLeasesAsync(CancellationToken cancellationToken) =>
        WriteAsync("rescue expired leases", async (connection, transaction, ct) =>
        {
            var dead = new List<(long BatchId, int Attempts, string LastError)>();
            var rescued = 0;
            await using (var command = Command(connection, transaction, _sql.RescueExpired))
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
        }, atomic: true, cancellationToken);

    /// <inheritdoc />
    public Task<int> ResetLeasesAsync(Guid jobId, CancellationToken cancellationToken) =>
        WriteAsync("reset leases", async (connection, transaction, ct) =>
        {
            await using var command = Command(connection, transaction, _sql.ResetLeases).With("@job", Id(jobId));
            return await command.ExecuteNonQueryAsync(ct);
        }, atomic: false, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<Guid>> FindFinishedJobsAsync(CancellationToken cancellationToken) =>
        ReadListAsync("find finished jobs", _sql.FindFinishedJobs, static reader => reader.GetGuid(0), cancellationToken);

    /// <inheritdoc />
    public Task<bool> CompleteJobAsync(Guid jobId, CancellationToken cancellationToken) =>
        WriteAsync("complete a job", async (connection, transaction, ct) =>
        {
            await using var command = Command(connection, transaction, _sql.CompleteJob).With("@job", Id(jobId));
            return await command.ExecuteNonQueryAsync(ct) == 1;
        }, atomic: false, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<ClassBatches>> GetClassBatchesAsync(Guid jobId, CancellationToken cancellationToken) =>
        ReadAsync<IReadOnlyList<ClassBatches>>("read a job's batches", async (connection, transaction, ct) =>
        {
            var classes = new List<ClassBatches>();
            await using var command = Command(connection, transaction, _sql.ClassBatches).With("@job", Id(jobId));
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                classes.Add(new ClassBatches(
                    reader.GetString(0), reader.GetInt32(1), reader.GetInt32(6), reader.GetInt32(2), reader.GetInt32(3), reader.GetInt32(4)));
            }

            return classes;
        }, cancellationToken);

    /// <inheritdoc />
    public Task<JobStatus?> GetJobStatusAsync(Guid jobId, CancellationToken cancellationToken) =>
        ReadAsync("read a job's status", async (connection, transaction, ct) =>
        {
            var job = await ReadJobAsync(connection, transaction, jobId, ct);
            if (job is null)
            {
                return null;
            }

            var tally = new JobTally();
            await using (var command = Command(connection, transaction, _sql.ClassObjects).With("@job", Id(jobId)))
            await using (var reader = await command.ExecuteReaderAsync(ct))
            {
                while (await reader.ReadAsync(ct))
                {
                    tally.AddObjects(
                        reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4),
                        reader.GetInt64(5), reader.GetInt64(6), reader.GetInt64(7), reader.GetInt64(8));
                }
            }

            await using (var command = Command(connection, transaction, _sql.ClassBatches).With("@job", Id(jobId)))
            await using (var reader = await command.ExecuteReaderAsync(ct))
            {
                while (await reader.ReadAsync(ct))
                {
                    tally.AddBatches(
                        reader.GetString(0), reader.GetInt32(1), reader.GetInt32(2), reader.GetInt32(3), reader.GetInt32(4), reader.GetInt32(5));
                }
            }

            await using (var command = Command(connection, transaction, DeadLettersSql).With("@job", Id(jobId)))
            await using (var reader = await command.ExecuteReaderAsync(ct))
            {
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
        const string Operation = "read objects";
        DbConnection connection;
        try
        {
            connection = await OpenAsync(cancellationToken);
        }
        catch (DbException e)
        {
            throw Translate(Operation, e);
        }

        await using (connection)
        {
            await using var command = Command(connection, null, ObjectsSql).With("@job", Id(jobId));
            DbDataReader reader;
            try
            {
                reader = await command.ExecuteReaderAsync(cancellationToken);
            }
            catch (DbException e)
            {
                throw Translate(Operation, e);
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

                        record = LedgerRows.ReadObject(reader, _time);
                    }
                    catch (DbException e)
                    {
                        throw Translate(Operation, e);
                    }

                    yield return record;
                }
            }
        }
    }

    /// <inheritdoc />
    public abstract ValueTask DisposeAsync();

    /// <summary>Opens a connection ready for the ledger's statements.</summary>
    private protected abstract ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken);

    /// <summary>Waits for this process's turn to write, or returns null where the database queues writers itself.</summary>
    private protected abstract ValueTask<IDisposable?> EnterWriteAsync(CancellationToken cancellationToken);

    /// <summary>Begins a write transaction; with <paramref name="atomic"/> false (one statement) a database may return null and autocommit.</summary>
    private protected abstract ValueTask<DbTransaction?> BeginWriteAsync(DbConnection connection, bool atomic, CancellationToken cancellationToken);

    /// <summary>Begins a read-only transaction in which every statement sees the same snapshot.</summary>
    private protected abstract ValueTask<DbTransaction> BeginSnapshotAsync(DbConnection connection, CancellationToken cancellationToken);

    /// <summary>The parameter value of a job id or lease token.</summary>
    private protected abstract object Id(Guid id);

    /// <summary>The parameter value of a lease duration or ttl.</summary>
    private protected abstract object Duration(TimeSpan duration);

    /// <summary>Claims the next pending batch (of <paramref name="jobId"/> only, if given; of its class <paramref name="label"/> only, if given) with its pending objects, or returns null.</summary>
    private protected abstract Task<ClaimedBatch?> ClaimAsync(
        DbConnection connection, DbTransaction? transaction, string workerId, TimeSpan duration, Guid? jobId, string? label, Guid token, CancellationToken ct);

    /// <summary>Writes the planned chunks: new batches, the growth of topped-up ones, and every object row.</summary>
    private protected abstract Task InsertPlannedAsync(
        DbConnection connection, DbTransaction transaction, Guid jobId, IReadOnlyList<BatchPlanner.Chunk> chunks, CancellationToken ct);

    /// <summary>Writes objects settled by planning (no batch, empty label), their reasons truncated.</summary>
    private protected abstract Task InsertOutcomesAsync(
        DbConnection connection, DbTransaction transaction, Guid jobId, IReadOnlyList<PlanningOutcome> outcomes, CancellationToken ct);

    /// <summary>Records every result of a batch's pending objects and returns how many rows it updated.</summary>
    private protected abstract Task<int> UpdateResultsAsync(
        DbConnection connection, DbTransaction transaction, long batchId, IReadOnlyList<ObjectResult> results, CancellationToken ct);

    /// <summary>Says what went wrong without any secret, and whether a retry may succeed.</summary>
    private protected abstract PosCudaException Translate(string operation, DbException exception);

    private protected static DbCommand Command(DbConnection connection, DbTransaction? transaction, string sql)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        return command;
    }

    private protected static async Task ExecuteAsync(DbConnection connection, DbTransaction? transaction, string sql, CancellationToken ct)
    {
        await using var command = Command(connection, transaction, sql);
        await command.ExecuteNonQueryAsync(ct);
    }

    private protected async Task<T> ExecuteAsync<T>(string operation, Func<DbConnection, CancellationToken, Task<T>> body, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await OpenAsync(cancellationToken);
            return await body(connection, cancellationToken);
        }
        catch (DbException e)
        {
            throw Translate(operation, e);
        }
    }

    private Task<T> WriteAsync<T>(
        string operation, Func<DbConnection, DbTransaction?, CancellationToken, Task<T>> body, bool atomic, CancellationToken cancellationToken) =>
        ExecuteAsync(operation, async (connection, ct) =>
        {
            using var turn = await EnterWriteAsync(ct);
            await using var transaction = await BeginWriteAsync(connection, atomic, ct);
            var result = await body(connection, transaction, ct);
            if (transaction is not null)
            {
                await transaction.CommitAsync(ct);
            }

            return result;
        }, cancellationToken);

    private Task<IReadOnlyList<T>> ReadListAsync<T>(string operation, string sql, Func<DbDataReader, T> row, CancellationToken cancellationToken) =>
        ExecuteAsync<IReadOnlyList<T>>(operation, async (connection, ct) =>
        {
            await using var command = Command(connection, null, sql);
            await using var reader = await command.ExecuteReaderAsync(ct);
            var rows = new List<T>();
            while (await reader.ReadAsync(ct))
            {
                rows.Add(row(reader));
            }

            return rows;
        }, cancellationToken);

    private Task<T> ReadAsync<T>(string operation, Func<DbConnection, DbTransaction, CancellationToken, Task<T>> body, CancellationToken cancellationToken) =>
        ExecuteAsync(operation, async (connection, ct) =>
        {
            await using var transaction = await BeginSnapshotAsync(connection, ct);
            return await body(connection, transaction, ct);
        }, cancellationToken);

    private DbCommand WithDefinition(DbCommand command, JobDefinition definition)
    {
        var parameters = definition.Parameters;
        return command
            .With("@source", definition.Source)
            .With("@destination", definition.Destination)
            .With("@rule", definition.LabelRule)
            .With("@spec", parameters.Spec)
            .With("@taps", parameters.Taps)
            .With("@patch", parameters.PatchLength)
            .With("@blur", parameters.Blur)
            .With("@window", parameters.Window)
            .With("@mode", LedgerText.ToText(parameters.Mode))
            .With("@spec_options", parameters.Spec == PoscudaV2.SpecName ? parameters.Code.ToText() : "")
            .With("@key_id", definition.KeyId)
            .With("@key_version", definition.KeyVersion)
            .With("@operation", JobOperation.ToText(definition.Operation));
    }

    private async Task<string?> ReadPlanningStateAsync(DbConnection connection, DbTransaction transaction, Guid jobId, CancellationToken ct)
    {
        await using var command = Command(connection, transaction, _sql.PlanningState).With("@job", Id(jobId));
        return await command.ExecuteScalarAsync(ct) as string
            ?? throw new ArgumentException($"The ledger has no job {jobId}.", nameof(jobId));
    }

    private async Task EnsurePlanningAsync(DbConnection connection, DbTransaction transaction, Guid jobId, CancellationToken ct)
    {
        var state = await ReadPlanningStateAsync(connection, transaction, jobId, ct);
        if (state != "planning")
        {
            throw new InvalidOperationException($"Job {jobId} is {state}; objects can only be added while it is planning.");
        }
    }

    private async Task KillObjectsAsync(DbConnection connection, DbTransaction? transaction, long batchId, string reason, CancellationToken ct)
    {
        await using var command = Command(connection, transaction, _sql.KillObjects).With("@reason", reason).With("@batch", batchId);
        await command.ExecuteNonQueryAsync(ct);
    }

    private async Task<JobRecord?> ReadJobAsync(DbConnection connection, DbTransaction? transaction, Guid jobId, CancellationToken ct)
    {
        await using var command = Command(connection, transaction, JobSql).With("@job", Id(jobId));
        await using var reader = await command.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct))
        {
            return null;
        }

        var job = LedgerRows.ReadJob(reader, _time);
        _definitions.TryAdd(jobId, job.Definition);
        return job;
    }

    private async Task<JobDefinition> GetDefinitionAsync(DbConnection connection, DbTransaction? transaction, Guid jobId, CancellationToken ct)
    {
        if (_definitions.TryGetValue(jobId, out var definition))
        {
            return definition;
        }

        var job = await ReadJobAsync(connection, transaction, jobId, ct);
        return job?.Definition ?? throw new PosCudaException($"Batch of job {jobId} has no job row in the ledger.");
    }

    /// <summary>A batch a claim statement took, with its pending objects in key order.</summary>
    private protected sealed record ClaimedBatch(long BatchId, Guid JobId, string Label, int Attempt, DateTimeOffset ExpiresAt, List<BatchObject> Objects);
}
