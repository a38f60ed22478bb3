using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Npgsql;
using PosCuda.Testing.Processes;
using Xunit;

namespace PosCuda.Testing.Postgres;

/// <summary>A throwaway PostgreSQL cluster for tests: initdb into a temp folder, a free loopback port, started with pg_ctl.</summary>
/// <remarks>
/// Use it as an xunit collection fixture (<see cref="CollectionName"/>). The superuser has a random password
/// (scram-sha-256 over TCP), so tests can check that passwords never leak. PostgreSQL refuses to run as root: when the
/// tests run as root, the folder is given to the <c>postgres</c> user and every server binary runs through
/// <c>runuser</c>. A server that cannot start fails the tests (never skips them), under CI and everywhere else.
/// </remarks>
public sealed class PostgresServer : IAsyncLifetime, IAsyncDisposable
{
    /// <summary>The name of the xunit collection that shares one server.</summary>
    public const string CollectionName = "PostgreSQL server";

    private const string SuperUser = "postgres";
    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(60);

    private readonly string _password = Convert.ToHexString(RandomNumberGenerator.GetBytes(16)).ToLowerInvariant();
    private string? _root;
    private string? _binaries;
    private bool _asPostgresUser;
    private int _port;

    /// <summary>The TCP port on 127.0.0.1 the server listens on.</summary>
    public int Port => _port;

    /// <summary>The superuser's password (only for tests that check it never leaks).</summary>
    public string Password => _password;

    /// <summary>A connection string to the <c>postgres</c> maintenance database as the superuser.</summary>
    public string AdminConnectionString => BuildConnectionString("postgres");

    /// <summary>Creates the cluster and starts the server.</summary>
    public async Task InitializeAsync()
    {
        try
        {
            await StartClusterAsync();
        }
        catch (Exception e)
        {
            var ci = string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase) ? " (CI=true)" : string.Empty;
            await DisposeAsync();
            throw new InvalidOperationException(
                $"The test PostgreSQL server could not start{ci}: {e.Message}. Install PostgreSQL (initdb, pg_ctl) or set POSCUDA_PG_BIN.", e);
        }
    }

    /// <summary>Creates a fresh, uniquely named database and returns a connection string to it.</summary>
    public async Task<string> CreateDatabaseAsync()
    {
        var name = "poscuda_" + Guid.NewGuid().ToString("N");
        await using (var connection = new NpgsqlConnection(AdminConnectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
            await command.ExecuteNonQueryAsync();
        }

        return BuildConnectionString(name);
    }

    /// <summary>Stops the server (fast shutdown: sessions are terminated) and starts it again on the same port.</summary>
    public async Task RestartAsync()
    {
        await PgCtlAsync(["stop", "-m", "fast", "-w", "-t", "60"]);

        // The fixture's own pooled connections died with the server.
        NpgsqlConnection.ClearAllPools();
        await StartServerAsync();
    }

    /// <summary>Stops the server at once and deletes its folder.</summary>
    public async Task StopAsync()
    {
        if (_root is null)
        {
            return;
        }

        if (_binaries is not null && File.Exists(Path.Combine(_root, "data", "postmaster.pid")))
        {
            try
            {
                await PgCtlAsync(["stop", "-m", "immediate", "-w", "-t", "30"]);
            }
            catch (InvalidOperationException)
            {
                // Already stopped; the folder goes either way.
            }
        }

        NpgsqlConnection.ClearAllPools();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        _root = null;
    }

    /// <inheritdoc />
    public async Task DisposeAsync() => await StopAsync();

    /// <inheritdoc />
    async ValueTask IAsyncDisposable.DisposeAsync() => await StopAsync();

    /// <summary>Finds the folder that holds <c>initdb</c> and <c>pg_ctl</c>, or null.</summary>
    /// <remarks>Looks at <c>POSCUDA_PG_BIN</c>, then <c>PATH</c>, then the usual Debian/Red Hat/Homebrew folders, newest version first.</remarks>
    public static string? FindBinaries()
    {
        var candidates = new List<string>();
        if (Environment.GetEnvironmentVariable("POSCUDA_PG_BIN") is { Length: > 0 } configured)
        {
            candidates.Add(configured);
        }

        candidates.AddRange((Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries));
        foreach (var pattern in new[] { ("/usr/lib/postgresql", "bin"), ("/usr/local/opt", "bin"), ("/opt/homebrew/opt", "bin") })
        {
            if (!Directory.Exists(pattern.Item1))
            {
                continue;
            }

            var versions = Directory.GetDirectories(pattern.Item1)
                .Select(d => (Dir: d, Version: VersionOf(Path.GetFileName(d))))
                .Where(d => pattern.Item1 == "/usr/lib/postgresql" || Path.GetFileName(d.Dir).StartsWith("postgresql", StringComparison.Ordinal))
                .OrderByDescending(d => d.Version);
            candidates.AddRange(versions.Select(v => Path.Combine(v.Dir, pattern.Item2)));
        }

        if (Directory.Exists("/usr"))
        {
            candidates.AddRange(Directory.GetDirectories("/usr", "pgsql-*").OrderDescending().Select(d => Path.Combine(d, "bin")));
        }

        candidates.Add("/usr/local/pgsql/bin");
        return candidates.FirstOrDefault(dir => File.Exists(Path.Combine(dir, "initdb")) && File.Exists(Path.Combine(dir, "pg_ctl")));
    }

    private static int VersionOf(string name)
    {
        var digits = new string(name.Where(char.IsAsciiDigit).Take(3).ToArray());
        return int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var version) ? version : 0;
    }

    private static async Task<bool> IsRootAsync()
    {
        if (string.Equals(Environment.UserName, "root", StringComparison.Ordinal))
        {
            return true;
        }

        if (OperatingSystem.IsWindows())
        {
            return false;
        }

        try
        {
            var (code, output) = await RunAsync("id", ["-u"], TimeSpan.FromSeconds(10));
            return code == 0 && output.Trim() == "0";
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string fileName, IReadOnlyList<string> arguments, TimeSpan timeout)
    {
        ChildProcessResult result = await ChildProcess.RunAsync(new ChildCommand(fileName) { Arguments = arguments }, timeout);
        return (result.ExitCode, result.StandardOutput + result.StandardError);
    }

    private async Task StartClusterAsync()
    {
        _binaries = FindBinaries() ?? throw new InvalidOperationException("initdb and pg_ctl were not found");
        _asPostgresUser = await IsRootAsync();
        _root = Path.Combine(Path.GetTempPath(), "poscuda-pg-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(_root);
        var passwordFile = Path.Combine(_root, "pwfile");
        await File.WriteAllTextAsync(passwordFile, _password + "\n");
        if (_asPostgresUser)
        {
            var (code, output) = await RunAsync("chown", ["-R", "postgres", _root], TimeSpan.FromSeconds(30));
            if (code != 0)
            {
                throw new InvalidOperationException($"chown to the postgres user failed: {output.Trim()}");
            }
        }

        await ServerToolAsync(
            "initdb",
            ["-D", Path.Combine(_root, "data"), "-U", SuperUser, "--pwfile", passwordFile, "--auth-local=trust",
                "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync"],
            TimeSpan.FromSeconds(120));
        File.Delete(passwordFile);
        _port = Loopback.FreePort();
        await StartServerAsync();
    }

    private async Task StartServerAsync()
    {
        var options = string.Join(
            ' ',
            "-c listen_addresses=127.0.0.1",
            $"-c port={_port}",
            "-c fsync=off",
            "-c synchronous_commit=off",
            "-c full_page_writes=off",
            $"-c unix_socket_directories={_root}",
            "-c max_connections=200");
        await PgCtlAsync(["start", "-w", "-t", "60", "-l", Path.Combine(_root!, "server.log"), "-o", options]);
        await WaitUntilReadyAsync();
    }

    private async Task WaitUntilReadyAsync()
    {
        var deadline = DateTime.UtcNow + s_startTimeout;
        while (true)
        {
            try
            {
                await using var connection = new NpgsqlConnection(AdminConnectionString);
                await connection.OpenAsync();
                return;
            }
            catch (NpgsqlException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
        }
    }

    private Task PgCtlAsync(IReadOnlyList<string> arguments) =>
        ServerToolAsync("pg_ctl", ["-D", Path.Combine(_root!, "data"), .. arguments], TimeSpan.FromSeconds(90));

    private async Task ServerToolAsync(string tool, IReadOnlyList<string> arguments, TimeSpan timeout)
    {
        var path = Path.Combine(_binaries!, tool);
        var (code, output) = _asPostgresUser
            ? await RunAsync("runuser", ["-u", "postgres", "--", path, .. arguments], timeout)
            : await RunAsync(path, arguments, timeout);
        if (code != 0)
        {
            var log = Path.Combine(_root!, "server.log");
            var tail = File.Exists(log) ? string.Join('\n', File.ReadLines(log).TakeLast(10)) : string.Empty;
            throw new InvalidOperationException($"{tool} exited with {code}: {output.Trim()} {tail}".Trim());
        }
    }

    private string BuildConnectionString(string database) => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = _port,
        Username = SuperUser,
        Password = _password,
        Database = database,
        Timeout = 15,
    }.ConnectionString;
}
