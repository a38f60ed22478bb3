using System.Collections;

namespace PosCuda.Testing.Processes;

/// <summary>What a test starts as a child process: a program, its arguments, and changes to the environment it inherits.</summary>
/// <remarks>Immutable; derive variants with <c>with</c>. Start it with <see cref="ChildProcess.Start"/> or <see cref="ChildProcess.RunAsync"/>.</remarks>
/// <param name="FileName">The program: a name looked up on <c>PATH</c> or a path.</param>
public sealed record ChildCommand(string FileName)
{
    /// <summary>The arguments, passed as they are (no shell quoting).</summary>
    public IReadOnlyList<string> Arguments { get; init; } = [];

    /// <summary>Environment changes over this process's environment: a value sets the variable, null removes it.</summary>
    public IReadOnlyDictionary<string, string?> Environment { get; init; } = new Dictionary<string, string?>(StringComparer.Ordinal);

    /// <summary>The working folder; this process's when null.</summary>
    public string? WorkingDirectory { get; init; }

    /// <summary>The name failure messages give it; the program's file name when null.</summary>
    public string? Name { get; init; }

    /// <summary>The name failure messages give it.</summary>
    public string DisplayName => Name ?? Path.GetFileName(FileName);

    /// <summary>Runs <c>dotnet TOOL.dll ARGS</c>, the tool's assembly taken from the running tests' bin folder.</summary>
    /// <param name="tool">The assembly name without <c>.dll</c>, e.g. <c>poscuda-worker</c>.</param>
    /// <param name="arguments">The tool's arguments.</param>
    public static ChildCommand DotnetTool(string tool, IEnumerable<string> arguments)
    {
        ArgumentException.ThrowIfNullOrEmpty(tool);
        ArgumentNullException.ThrowIfNull(arguments);
        return new ChildCommand("dotnet") { Arguments = [Path.Combine(AppContext.BaseDirectory, tool + ".dll"), .. arguments], Name = tool };
    }

    /// <summary>A copy whose environment also applies <paramref name="changes"/> (later changes win).</summary>
    public ChildCommand WithEnvironment(IEnumerable<KeyValuePair<string, string?>> changes)
    {
        ArgumentNullException.ThrowIfNull(changes);
        var merged = new Dictionary<string, string?>(Environment, StringComparer.Ordinal);
        foreach ((string name, string? value) in changes)
        {
            merged[name] = value;
        }

        return this with { Environment = merged };
    }

    /// <summary>A copy that removes every inherited variable whose name starts with <paramref name="prefix"/> (unless set here).</summary>
    public ChildCommand WithoutInherited(string prefix)
    {
        ArgumentException.ThrowIfNullOrEmpty(prefix);
        var merged = new Dictionary<string, string?>(Environment, StringComparer.Ordinal);
        foreach (DictionaryEntry entry in System.Environment.GetEnvironmentVariables())
        {
            if (entry.Key is string name && name.StartsWith(prefix, StringComparison.Ordinal))
            {
                merged.TryAdd(name, null);
            }
        }

        return this with { Environment = merged };
    }

    /// <inheritdoc />
    public override string ToString() => string.Join(' ', Arguments.Prepend(FileName));
}
