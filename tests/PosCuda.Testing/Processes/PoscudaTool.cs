using PosCuda.Testing.Storage;

namespace PosCuda.Testing.Processes;

/// <summary>The built <c>poscuda</c> and <c>poscuda-worker</c> tools (<c>dotnet TOOL.dll</c> beside the tests) as child processes.</summary>
/// <remarks>
/// A child sees only the settings its test chose: no inherited <c>OTEL_*</c> variable (no export unless asked),
/// no <c>POSCUDA_LEDGER</c>, and the dummy S3 credentials <see cref="MotoServer"/> uses instead of any real ones.
/// </remarks>
public static class PoscudaTool
{
    /// <summary>The coordinator's command-line tool.</summary>
    public const string Poscuda = "poscuda";

    /// <summary>The worker.</summary>
    public const string Worker = "poscuda-worker";

    /// <summary>How long <see cref="RunAsync"/> lets a command run before killing it.</summary>
    public static TimeSpan DefaultTimeout { get; } = TimeSpan.FromSeconds(120);

    /// <summary>The command that runs <paramref name="tool"/> with <paramref name="arguments"/> and <paramref name="environment"/> over the defaults.</summary>
    /// <param name="tool"><see cref="Poscuda"/> or <see cref="Worker"/>.</param>
    /// <param name="arguments">Its arguments.</param>
    /// <param name="environment">Variables to set over the defaults.</param>
    /// <param name="name">The name failure messages give it; the tool's when null.</param>
    public static ChildCommand Command(
        string tool, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null, string? name = null)
    {
        ChildCommand command = ChildCommand.DotnetTool(tool, arguments)
            .WithoutInherited("OTEL_")
            .WithEnvironment(new Dictionary<string, string?>
            {
                ["POSCUDA_LEDGER"] = null,
                ["AWS_ACCESS_KEY_ID"] = MotoServer.DummyCredential,
                ["AWS_SECRET_ACCESS_KEY"] = MotoServer.DummyCredential,
                ["AWS_SESSION_TOKEN"] = null,
            })
            .WithEnvironment((environment ?? new Dictionary<string, string>()).Select(static p => KeyValuePair.Create(p.Key, (string?)p.Value)));
        return name is null ? command : command with { Name = name };
    }

    /// <summary>Starts <paramref name="tool"/> as a long-running child process named <paramref name="name"/>.</summary>
    /// <param name="name">Its name in failure messages.</param>
    /// <param name="tool"><see cref="Poscuda"/> or <see cref="Worker"/>.</param>
    /// <param name="arguments">Its arguments.</param>
    /// <param name="environment">Variables to set over the defaults.</param>
    /// <param name="launcher">A command that runs it (such as <c>ip netns exec NS</c>), or null to run <c>dotnet</c> directly.</param>
    public static ChildProcess Start(
        string name, string tool, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null, IReadOnlyList<string>? launcher = null)
    {
        ChildCommand command = Command(tool, arguments, environment, name);
        if (launcher is { Count: > 0 })
        {
            command = command with { FileName = launcher[0], Arguments = [.. launcher.Skip(1), command.FileName, .. command.Arguments] };
        }

        return ChildProcess.Start(command);
    }

    /// <summary>Runs <c>poscuda ARGS</c> to completion (killed after <paramref name="timeout"/>, two minutes by default).</summary>
    /// <exception cref="TimeoutException">It ran too long and was killed.</exception>
    public static Task<ChildProcessResult> RunAsync(
        IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null, TimeSpan? timeout = null)
        => ChildProcess.RunAsync(Command(Poscuda, arguments, environment), timeout ?? DefaultTimeout);
}
