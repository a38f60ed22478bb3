using PosCuda.Shared.Ledger;

namespace PosCuda.Shared.Tests.Ledger;

/// <summary>Tests of the <see cref="WorkLedger"/> factory and its redaction; no server needed.</summary>
public sealed class WorkLedgerTests
{
    [Theory]
    [InlineData("postgres://alice:hunter2@db.example:6543/ledger?sslmode=verify-full", "postgresql://alice@db.example:6543/ledger")]
    [InlineData("postgresql://alice:p%40ss%3Aword@db.example/ledger", "postgresql://alice@db.example:5432/ledger")]
    [InlineData("postgres://bob:hunter2@[::1]:5433/jobs", "postgresql://bob@[::1]:5433/jobs")]
    [InlineData("postgres://bob:hunter2@a:5432,b:5433/jobs", "postgresql://bob@a:5432,b:5433/jobs")]
    [InlineData("Host=db;Port=5433;Username=bob;Password=hunter2;Database=jobs", "postgresql://bob@db:5433/jobs")]
    public async Task Open_PostgresLocation_ReturnsPostgresLedgerDescribedWithoutPassword(string location, string expected)
    {
        await using var ledger = WorkLedger.Open(location);

        Assert.IsType<PostgresWorkLedger>(ledger);
        Assert.Equal(expected, ledger.Describe());
        Assert.Equal(expected, WorkLedger.Redact(location));
    }

    [Theory]
    [InlineData("sqlite:state/ledger")]
    [InlineData("sqlite://state/ledger")]
    [InlineData("state/ledger.db")]
    public async Task Open_SqliteLocation_ReturnsSqliteLedger(string location)
    {
        await using var ledger = WorkLedger.Open(location);

        Assert.IsType<SqliteWorkLedger>(ledger);
        Assert.StartsWith("sqlite:" + Path.GetFullPath("state"), ledger.Describe(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("mysql://root:hunter2@db/ledger")]
    [InlineData("ledger.json")]
    public void Open_UnknownLocation_ThrowsWithoutPassword(string location)
    {
        var error = Assert.Throws<ArgumentException>(() => WorkLedger.Open(location));

        Assert.DoesNotContain("hunter2", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_UriWithUnknownOption_NamesTheOptionButNotItsValue()
    {
        var error = Assert.Throws<ArgumentException>(() => WorkLedger.Open("postgres://u:hunter2@db/ledger?bogus_option=topsecret"));

        Assert.Contains("bogus_option", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("topsecret", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, "(no ledger location)")]
    [InlineData("postgres://u:hunter2@db:99999/x", "(unparsable PostgreSQL location)")]
    [InlineData("whatever:hunter2", "(unrecognised ledger location)")]
    public void Redact_OddLocations_NeverEchoThem(string? location, string expected)
    {
        Assert.Equal(expected, WorkLedger.Redact(location));
    }
}
