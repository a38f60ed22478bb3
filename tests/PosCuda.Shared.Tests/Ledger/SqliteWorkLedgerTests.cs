using PosCuda.Shared.Ledger;

namespace PosCuda.Shared.Tests.Ledger;

/// <summary>The ledger contract against <see cref="SqliteWorkLedger"/>, a fresh file per test.</summary>
public sealed class SqliteWorkLedgerTests : WorkLedgerContractTests
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "poscuda-ledger-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public async Task MigrateAsync_NewFile_UsesWriteAheadLog()
    {
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(_folder, "ledger.db")}");
        await connection.OpenAsync(Ct);
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode";

        Assert.Equal("wal", await command.ExecuteScalarAsync(Ct));
    }

    [Fact]
    public async Task CompleteObjectsSql_Plan_ReadsTheResultsOnceAndFindsEachObjectByRowid()
    {
        // The other plan (walk the batch index, scan the JSON array per object) is quadratic in the batch size:
        // it made a 100k-object job three times slower.
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(_folder, "ledger.db")}");
        await connection.OpenAsync(Ct);
        await using var command = connection.CreateCommand();
        command.CommandText = "EXPLAIN QUERY PLAN " + SqliteWorkLedger.CompleteObjectsSql;
        command.Parameters.AddWithValue("@rows", "[[1,\"done\",null,1,null,null,10,0]]");
        command.Parameters.AddWithValue("@batch", 1);
        var steps = new List<string>();
        await using (var reader = await command.ExecuteReaderAsync(Ct))
        {
            while (await reader.ReadAsync(Ct))
            {
                steps.Add(reader.GetString(3));
            }
        }

        Assert.Equal(2, steps.Count);
        Assert.StartsWith("SCAN json_each", steps[0], StringComparison.Ordinal);
        Assert.Equal("SEARCH objects USING INTEGER PRIMARY KEY (rowid=?)", steps[1]);
    }

    [Fact]
    public void Describe_Always_NamesTheFile()
    {
        Assert.Equal("sqlite:" + Path.Combine(_folder, "ledger.db"), Ledger.Describe());
    }

    protected override Task<IWorkLedger> OpenLedgerAsync() =>
        Task.FromResult<IWorkLedger>(new SqliteWorkLedger(Path.Combine(_folder, "ledger.db")));

    protected override Task CleanupAsync()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }

        return Task.CompletedTask;
    }
}
