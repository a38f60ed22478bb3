using System.Data.Common;
using PosCuda.Pipeline.Tests.Distributed;
using PosCuda.Shared.Protection;
using PosCuda.Testing;
using PosCuda.Testing.Audio;
using PosCuda.Testing.Processes;

namespace PosCuda.Pipeline.Tests.Planning;

/// <summary>20,000 tiny distinct WAV clips in four class folders, and the checks a resumed planning must pass.</summary>
internal sealed class PlanningResumeCorpus
{
    public const int Clips = 20_000;
    private static readonly string[] s_classes = ["down", "go", "left", "up"];

    public PlanningResumeCorpus(string root)
    {
        Root = root;
        for (int i = 0; i < Clips; i++)
        {
            string label = s_classes[i % s_classes.Length];
            string folder = Path.Combine(root, label);
            Directory.CreateDirectory(folder);
            File.WriteAllBytes(Path.Combine(folder, $"{i:D5}.wav"), new WavBuilder().WithNoise(frames: 24, seed: i).Build());
        }
    }

    public string Root { get; }

    /// <summary>Steps <paramref name="process"/> and reads the ledger while it is frozen, until planning has recorded a chunk and
    /// not finished; then kills it (<see cref="ChildProcess.KillWhenAsync"/>). Returns the keys and object ids planned then.</summary>
    /// <remarks>The ledger is read only while the process is stopped, so what is read is what it dies with.</remarks>
    /// <param name="open">Opens a connection to the ledger, or null while it does not exist yet.</param>
    /// <param name="process">The planning process.</param>
    public static async Task<Dictionary<string, long>> KillWhilePlanningAsync(Func<Task<DbConnection?>> open, ChildProcess process)
    {
        Dictionary<string, long> planned = [];
        await process.KillWhenAsync(
            async () =>
            {
                await using DbConnection? connection = await TryAsync(open);
                if (connection is not null && await TryReadAsync(connection) is ("planning", { Count: > 0 } read))
                {
                    planned = read;
                    return true;
                }

                return false;
            },
            TimeSpan.FromMinutes(2),
            "a planning chunk in the ledger");
        return planned;
    }

    /// <summary>Asserts every output is the spec's protection of its source, byte for byte.</summary>
    public void AssertOutputs(string destination, Keyring keyring)
    {
        Assert.Equal(Clips, Directory.EnumerateFiles(destination, "*.wav", SearchOption.AllDirectories).Count());
        foreach (string file in Directory.EnumerateFiles(Root, "*.wav", SearchOption.AllDirectories))
        {
            string key = Path.GetRelativePath(Root, file).Replace('\\', '/');
            byte[] expected = ProtectionOracle.Expected(keyring, File.ReadAllBytes(file), key[..key.IndexOf('/', StringComparison.Ordinal)], key);
            Assert.True(expected.AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(destination, key))), key);
        }
    }

    private static async Task<(string? State, Dictionary<string, long> Planned)> ReadAsync(DbConnection connection)
    {
        string? state;
        await using (DbCommand command = connection.CreateCommand())
        {
            command.CommandText = "SELECT state FROM jobs";
            state = await command.ExecuteScalarAsync() as string;
        }

        var planned = new Dictionary<string, long>(StringComparer.Ordinal);
        await using (DbCommand command = connection.CreateCommand())
        {
            command.CommandText = "SELECT key, object_id FROM objects";
            await using DbDataReader reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                planned.Add(reader.GetString(0), reader.GetInt64(1));
            }
        }

        return (state, planned);
    }

    private static async Task<(string? State, Dictionary<string, long> Planned)?> TryReadAsync(DbConnection connection)
    {
        try
        {
            return await ReadAsync(connection);
        }
        catch (DbException)
        {
            return null;
        }
    }

    // The ledger may not exist yet, or be migrating, or be locked for a moment: try again.
    private static async Task<T?> TryAsync<T>(Func<Task<T>> action)
        where T : class?
    {
        try
        {
            return await action();
        }
        catch (DbException)
        {
            return null;
        }
    }
}
