using System.Net;
using System.Net.Sockets;
using Npgsql;
using PosCuda.Shared.Ledger;
using PosCuda.Testing.Postgres;

namespace PosCuda.Shared.Tests.Ledger;

/// <summary>The ledger contract against <see cref="PostgresWorkLedger"/>, a fresh database per test, plus what only PostgreSQL has.</summary>
[Collection(PostgresServer.CollectionName)]
public sealed class PostgresWorkLedgerTests(PostgresServer server) : WorkLedgerContractTests
{
    private string? _connectionString;

    private string ConnectionString => _connectionString ?? throw new InvalidOperationException("No database yet.");

    [Fact]
    public async Task MigrateAsync_FourLedgersAtOnce_ApplyEachVersionOnce()
    {
        var connectionString = await server.CreateDatabaseAsync();
        var ledgers = Enumerable.Range(0, 4).Select(_ => new PostgresWorkLedger(connectionString)).ToList();
        try
        {
            await Task.WhenAll(ledgers.Select(l => Task.Run(() => l.MigrateAsync(Ct))));
            await ledgers[0].MigrateAsync(Ct);

            Assert.NotEqual(Guid.Empty, await ledgers[1].CreateJobAsync(Definition(), Ct));
        }
        finally
        {
            foreach (var ledger in ledgers)
            {
                await ledger.DisposeAsync();
            }
        }

        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(Ct);
        await using var command = new NpgsqlCommand("SELECT count(*), count(DISTINCT version), max(version) FROM schema_migrations", connection);
        await using var reader = await command.ExecuteReaderAsync(Ct);
        Assert.True(await reader.ReadAsync(Ct));
        Assert.Equal(PostgresSchema.Migrations.Count, reader.GetInt64(0));
        Assert.Equal(PostgresSchema.Migrations.Count, reader.GetInt64(1));
        Assert.Equal(PostgresSchema.Migrations.Count, reader.GetInt32(2));
    }

    [Theory]
    [InlineData(false, "batches_pending_ix")]
    [InlineData(true, "batches_job_pending_ix")]
    public async Task ClaimBatch_Plan_UsesPartialPendingIndex(bool byJob, string index)
    {
        // Another job's pending batches come first, as in a shared ledger: walking the global index would have to skip them.
        await StartedJobAsync(Objects("x", 400), batchSize: 1, Definition(destination: "s3://other/"));
        var jobId = await StartedJobAsync(Objects("a", 50).Concat(Objects("b", 50)).ToList(), batchSize: 1);
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync(Ct);
        await using (var setup = new NpgsqlCommand("ANALYZE batches; SET enable_seqscan = off", connection))
        {
            await setup.ExecuteNonQueryAsync(Ct);
        }

        await using var explain = new NpgsqlCommand("EXPLAIN " + (byJob ? PostgresWorkLedger.ClaimJobSql : PostgresWorkLedger.ClaimAnySql), connection);
        explain.Parameters.AddWithValue("token", Guid.NewGuid());
        explain.Parameters.AddWithValue("worker", "w");
        explain.Parameters.AddWithValue("duration", TimeSpan.FromMinutes(1));
        if (byJob)
        {
            explain.Parameters.AddWithValue("job", jobId);
        }

        var plan = new List<string>();
        await using (var reader = await explain.ExecuteReaderAsync(Ct))
        {
            while (await reader.ReadAsync(Ct))
            {
                plan.Add(reader.GetString(0));
            }
        }

        var text = string.Join('\n', plan);
        Assert.True(text.Contains($"Index Scan using {index} on batches", StringComparison.Ordinal), text);
        Assert.Contains("LockRows", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ledger_ServerRestarted_PoolRecoversWithoutANewLedger()
    {
        var jobId = await StartedJobAsync(Objects("a", 4), batchSize: 1);

        // Fill the pool with several idle connections that the restart will kill.
        await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => Task.Run(() => Ledger.GetJobStatusAsync(jobId, Ct))));
        await server.RestartAsync();

        var transientFailures = 0;
        JobRecord? job = null;
        for (var attempt = 0; attempt < 3 && job is null; attempt++)
        {
            try
            {
                job = await Ledger.GetJobAsync(jobId, Ct);
            }
            catch (PosCuda.Shared.PosCudaException e)
            {
                Assert.True(e.IsTransient, e.ToString());
                transientFailures++;
            }
        }

        Assert.NotNull(job);
        Assert.InRange(transientFailures, 0, 1);
        var leases = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => Ledger.ClaimBatchAsync("w", TimeSpan.FromMinutes(1), jobId, Ct))));
        Assert.Equal(4, leases.Where(l => l is not null).Select(l => l!.BatchId).Distinct().Count());
    }

    [Fact]
    public async Task Errors_WrongPassword_NeverContainThePassword()
    {
        const string Wrong = "Wr0ng-Pa55word-7c1e";
        var builder = new NpgsqlConnectionStringBuilder(ConnectionString) { Password = Wrong };
        await using var ledger = new PostgresWorkLedger(builder.ConnectionString);

        var error = await Assert.ThrowsAsync<PosCuda.Shared.PosCudaException>(() => ledger.GetJobAsync(Guid.NewGuid(), Ct));

        Assert.False(error.IsTransient);
        Assert.Contains("28P01", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Wrong, error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(server.Password, error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(Wrong, ledger.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Errors_NothingListening_AreTransientAndNeverContainThePassword()
    {
        const string Secret = "S3cret-Pa55word-91ab";
        await using var ledger = WorkLedger.Open($"postgres://poscuda:{Secret}@127.0.0.1:{ClosedPort()}/ledger?connect_timeout=5");

        var error = await Assert.ThrowsAsync<PosCuda.Shared.PosCudaException>(() => ledger.MigrateAsync(Ct));

        Assert.True(error.IsTransient, error.ToString());
        Assert.DoesNotContain(Secret, error.ToString(), StringComparison.Ordinal);
        Assert.StartsWith("postgresql://poscuda@127.0.0.1:", ledger.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Open_PostgresUri_ReachesTheServer()
    {
        var builder = new NpgsqlConnectionStringBuilder(ConnectionString);
        var uri = $"postgresql://{builder.Username}:{Uri.EscapeDataString(server.Password)}@127.0.0.1:{server.Port}/{builder.Database}?application_name=ledger-test";
        await using var ledger = WorkLedger.Open(uri);

        await ledger.MigrateAsync(Ct);
        var jobId = await ledger.CreateJobAsync(Definition(), Ct);

        Assert.IsType<PostgresWorkLedger>(ledger);
        Assert.Equal(jobId, (await Ledger.ListJobsAsync(Ct)).Single().JobId);
    }

    protected override async Task<IWorkLedger> OpenLedgerAsync()
    {
        _connectionString = await server.CreateDatabaseAsync();
        return new PostgresWorkLedger(_connectionString);
    }

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
