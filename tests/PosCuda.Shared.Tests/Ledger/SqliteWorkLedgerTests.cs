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
