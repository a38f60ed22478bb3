namespace PosCuda.Shared.Ledger;

/// <summary>Opens a work ledger from a location string.</summary>
public static class WorkLedger
{
    /// <summary>Opens the ledger at <paramref name="location"/>; nothing connects until first use, and the caller runs <see cref="IWorkLedger.MigrateAsync"/>.</summary>
    /// <param name="location">
    /// PostgreSQL: a <c>postgres://user:password@host:port/db?sslmode=...</c> (or <c>postgresql://</c>) URI, or an Npgsql
    /// connection string (<c>Host=...;Database=...</c>). SQLite: <c>sqlite:PATH</c>, or a path ending in <c>.db</c>.
    /// </param>
    /// <exception cref="ArgumentException">The location is neither; the message never holds a password.</exception>
    public static IWorkLedger Open(string location)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(location);
        if (LedgerLocation.TryPostgres(location) is { } builder)
        {
            return new PostgresWorkLedger(builder);
        }

        if (LedgerLocation.TrySqlitePath(location) is { } path)
        {
            return new SqliteWorkLedger(path);
        }

        throw new ArgumentException(
            $"Unrecognised ledger location {Redact(location)}: give a postgres:// URI, a Host=... connection string, sqlite:PATH or a .db file.",
            nameof(location));
    }

    /// <summary>Returns the full path of the SQLite file <paramref name="location"/> names, or null when it names a PostgreSQL server or nothing.</summary>
    public static string? SqlitePath(string location)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(location);
        return LedgerLocation.TryPostgres(location) is null && LedgerLocation.TrySqlitePath(location) is { } path ? Path.GetFullPath(path) : null;
    }

    /// <summary>Describes a ledger location for logs, without its password, whether or not it parses.</summary>
    public static string Redact(string? location) => LedgerLocation.Redact(location);
}
