using Npgsql;

namespace PosCuda.Shared.Ledger;

/// <summary>Parses ledger locations (PostgreSQL URIs and connection strings, SQLite paths) and describes them without secrets.</summary>
internal static class LedgerLocation
{
    private const string SqlitePrefix = "sqlite:";

    // libpq URI query parameters and the Npgsql keywords they mean.
    private static readonly Dictionary<string, string> s_libpqKeywords = new(StringComparer.OrdinalIgnoreCase)
    {
        ["sslmode"] = "SSL Mode",
        ["application_name"] = "Application Name",
        ["connect_timeout"] = "Timeout",
        ["target_session_attrs"] = "Target Session Attributes",
        ["options"] = "Options",
        ["sslrootcert"] = "Root Certificate",
        ["sslcert"] = "SSL Certificate",
        ["sslkey"] = "SSL Key",
        ["sslpassword"] = "SSL Password",
        ["user"] = "Username",
        ["password"] = "Password",
        ["dbname"] = "Database",
        ["host"] = "Host",
        ["port"] = "Port",
    };

    /// <summary>Whether <paramref name="location"/> is a <c>postgres://</c> or <c>postgresql://</c> URI.</summary>
    public static bool IsPostgresUri(string location) =>
        location.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase)
        || location.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase);

    /// <summary>Returns the Npgsql connection string <paramref name="location"/> means, or null when it names no PostgreSQL server.</summary>
    /// <exception cref="ArgumentException">A PostgreSQL URI that cannot be parsed; the message holds no secret.</exception>
    public static NpgsqlConnectionStringBuilder? TryPostgres(string location)
    {
        if (IsPostgresUri(location))
        {
            return ParseUri(location);
        }

        if (location.StartsWith(SqlitePrefix, StringComparison.OrdinalIgnoreCase) || !location.Contains('=', StringComparison.Ordinal))
        {
            return null;
        }

        try
        {
            var builder = new NpgsqlConnectionStringBuilder(location);
            return string.IsNullOrEmpty(builder.Host) ? null : builder;
        }
        catch (ArgumentException)
        {
            return null;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary>Returns the SQLite file <paramref name="location"/> names, or null.</summary>
    public static string? TrySqlitePath(string location)
    {
        if (location.StartsWith(SqlitePrefix, StringComparison.OrdinalIgnoreCase))
        {
            var path = location[SqlitePrefix.Length..];
            if (path.StartsWith("//", StringComparison.Ordinal))
            {
                path = path[2..];
            }

            return path.Length == 0 ? null : path;
        }

        return location.EndsWith(".db", StringComparison.OrdinalIgnoreCase) ? location : null;
    }

    /// <summary>Describes a PostgreSQL connection without its password.</summary>
    public static string Describe(NpgsqlConnectionStringBuilder builder)
    {
        var user = string.IsNullOrEmpty(builder.Username) ? string.Empty : Uri.EscapeDataString(builder.Username) + "@";
        var host = builder.Host ?? "localhost";
        var server = host.Contains(',', StringComparison.Ordinal) ? host // a host list carries its own ports
            : host.Contains(':', StringComparison.Ordinal) ? $"[{host}]:{builder.Port}"
            : $"{host}:{builder.Port}";
        return $"postgresql://{user}{server}/{builder.Database}";
    }

    /// <summary>Describes any ledger location without a password, whether or not it parses.</summary>
    public static string Redact(string? location)
    {
        if (string.IsNullOrWhiteSpace(location))
        {
            return "(no ledger location)";
        }

        try
        {
            if (TryPostgres(location) is { } builder)
            {
                return Describe(builder);
            }
        }
        catch (ArgumentException)
        {
            return "(unparsable PostgreSQL location)";
        }

        return TrySqlitePath(location) is { } path ? SqlitePrefix + path : "(unrecognised ledger location)";
    }

    private static NpgsqlConnectionStringBuilder ParseUri(string location)
    {
        var rest = location[(location.IndexOf("://", StringComparison.Ordinal) + 3)..];
        string? query = null;
        var q = rest.IndexOf('?', StringComparison.Ordinal);
        if (q >= 0)
        {
            query = rest[(q + 1)..];
            rest = rest[..q];
        }

        string? database = null;
        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0)
        {
            database = Uri.UnescapeDataString(rest[(slash + 1)..]);
            rest = rest[..slash];
        }

        var builder = new NpgsqlConnectionStringBuilder();
        var at = rest.LastIndexOf('@');
        if (at >= 0)
        {
            var userInfo = rest[..at];
            rest = rest[(at + 1)..];
            var colon = userInfo.IndexOf(':', StringComparison.Ordinal);
            builder.Username = Uri.UnescapeDataString(colon >= 0 ? userInfo[..colon] : userInfo);
            if (colon >= 0)
            {
                builder.Password = Uri.UnescapeDataString(userInfo[(colon + 1)..]);
            }
        }

        SetHosts(builder, rest);
        if (!string.IsNullOrEmpty(database))
        {
            builder.Database = database;
        }

        if (!string.IsNullOrEmpty(query))
        {
            foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                var eq = pair.IndexOf('=', StringComparison.Ordinal);
                var key = Uri.UnescapeDataString(eq >= 0 ? pair[..eq] : pair);
                var value = eq >= 0 ? Uri.UnescapeDataString(pair[(eq + 1)..]) : string.Empty;
                SetOption(builder, key, value);
            }
        }

        return builder;
    }

    private static void SetHosts(NpgsqlConnectionStringBuilder builder, string hosts)
    {
        if (hosts.Length == 0)
        {
            return;
        }

        if (hosts.Contains(',', StringComparison.Ordinal))
        {
            // Npgsql takes a host list in the same host:port,host:port form.
            builder.Host = hosts;
            return;
        }

        var portAt = hosts.StartsWith('[') ? hosts.IndexOf("]:", StringComparison.Ordinal) + 1 : hosts.LastIndexOf(':');
        if (portAt > 0)
        {
            if (!int.TryParse(hosts.AsSpan(portAt + 1), out var port) || port is < 1 or > 65535)
            {
                throw new ArgumentException("The PostgreSQL location has an invalid port.", "location");
            }

            builder.Port = port;
            hosts = hosts[..portAt];
        }

        builder.Host = hosts.Trim('[', ']');
    }

    private static void SetOption(NpgsqlConnectionStringBuilder builder, string key, string value)
    {
        if (key.Equals("sslmode", StringComparison.OrdinalIgnoreCase))
        {
            // libpq spells verify-ca / verify-full with a hyphen; Npgsql's enum does not.
            value = value.Replace("-", string.Empty, StringComparison.Ordinal);
        }

        var keyword = s_libpqKeywords.TryGetValue(key, out var mapped) ? mapped : key;
        try
        {
            builder[keyword] = value;
        }
        catch (Exception e) when (e is ArgumentException or FormatException or InvalidCastException)
        {
            // Name the option, never its value: it may be a secret.
            throw new ArgumentException($"The PostgreSQL location has an unknown or invalid option '{key}'.", "location");
        }
    }
}
