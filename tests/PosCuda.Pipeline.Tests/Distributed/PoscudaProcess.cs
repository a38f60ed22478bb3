using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace PosCuda.Pipeline.Tests.Distributed;

/// <summary>A <c>poscuda</c> or <c>poscuda-worker</c> child process, for tests that must SIGKILL or SIGTERM it.</summary>
/// <remarks>Runs <c>dotnet TOOL.dll</c> from the test's bin folder (behind a launcher such as <c>ip netns exec NS</c> if given); keeps its
/// last output lines for failure messages and every line for <see cref="WaitForLineAsync"/>; kills it on dispose.</remarks>
public sealed class PoscudaProcess : IAsyncDisposable
{
    private const int LinesKept = 60;

    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();
    private readonly List<string> _history = [];

    private PoscudaProcess(
        string name, string tool, IReadOnlyList<string> args, IReadOnlyDictionary<string, string>? environment, IReadOnlyList<string>? launcher = null)
    {
        Name = name;
        launcher = [.. launcher ?? [], "dotnet"];
        var start = new ProcessStartInfo(launcher[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in launcher.Skip(1))
        {
            start.ArgumentList.Add(arg);
        }

        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, tool + ".dll"));
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        // The dummy credentials MotoServer put in this process's environment; no OTLP export from children.
        start.Environment["AWS_ACCESS_KEY_ID"] = Testing.Storage.MotoServer.DummyCredential;
        start.Environment["AWS_SECRET_ACCESS_KEY"] = Testing.Storage.MotoServer.DummyCredential;
        start.Environment.Remove("AWS_SESSION_TOKEN");
        start.Environment.Remove("OTEL_EXPORTER_OTLP_ENDPOINT");
        start.Environment.Remove("POSCUDA_LEDGER");
        if (environment is not null)
        {
            foreach (KeyValuePair<string, string> pair in environment)
            {
                start.Environment[pair.Key] = pair.Value;
            }
        }

        _process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {tool}");
        _process.OutputDataReceived += (_, e) => Remember(e.Data);
        _process.ErrorDataReceived += (_, e) => Remember(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>The name tests gave it, for messages.</summary>
    public string Name { get; }

    /// <summary>Whether it has exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>Its exit code (once exited).</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>Starts <c>poscuda-worker</c> with <paramref name="args"/>, through <paramref name="launcher"/> when given (e.g. <c>ip netns exec NS</c>).</summary>
    public static PoscudaProcess StartWorker(
        string name, IReadOnlyList<string> args, IReadOnlyDictionary<string, string>? environment = null, IReadOnlyList<string>? launcher = null)
        => new(name, "poscuda-worker", args, environment, launcher);

    /// <summary>Starts <c>poscuda</c> with <paramref name="args"/>.</summary>
    public static PoscudaProcess StartPoscuda(string name, IReadOnlyList<string> args, IReadOnlyDictionary<string, string>? environment = null)
        => new(name, "poscuda", args, environment);

    /// <summary>Runs <c>poscuda</c> to the end and returns its exit code and standard output.</summary>
    public static async Task<(int ExitCode, string Output)> RunPoscudaAsync(IReadOnlyList<string> args, TimeSpan timeout)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "poscuda.dll"));
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment.Remove("POSCUDA_LEDGER");
        using Process process = Process.Start(start) ?? throw new InvalidOperationException("could not start poscuda");
        using var cts = new CancellationTokenSource(timeout);
        Task<string> stdout = process.StandardOutput.ReadToEndAsync(cts.Token);
        Task<string> stderr = process.StandardError.ReadToEndAsync(cts.Token);
        await process.WaitForExitAsync(cts.Token);
        _ = await stderr;
        return (process.ExitCode, await stdout);
    }

    /// <summary>SIGKILL: the process dies at once, holding whatever it held.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        await _process.WaitForExitAsync();
    }

    /// <summary>Sends SIGTERM (the graceful stop a node's supervisor sends).</summary>
    public async Task TerminateAsync()
    {
        using var kill = Process.Start(new ProcessStartInfo("kill")
        {
            ArgumentList = { "-s", "TERM", _process.Id.ToString(CultureInfo.InvariantCulture) },
            UseShellExecute = false,
        }) ?? throw new InvalidOperationException("could not run kill");
        await kill.WaitForExitAsync();
    }

    /// <summary>Waits for the process to exit and returns its exit code.</summary>
    /// <exception cref="TimeoutException">It did not exit in time.</exception>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"{Name} did not exit within {timeout.TotalSeconds:0} s. {Output()}");
        }

        return _process.ExitCode;
    }

    /// <summary>Waits until the process prints a line that <paramref name="match"/> takes (or has printed one) and returns the first such line.</summary>
    /// <exception cref="TimeoutException">No such line in time.</exception>
    public async Task<string> WaitForLineAsync(Func<string, bool> match, TimeSpan timeout, string what)
        => (await Poll.UntilAsync(() => Task.FromResult(FindLine(match)), static line => line is not null, timeout, what, Output))!;

    /// <summary>The first line it printed that <paramref name="match"/> takes, or null.</summary>
    public string? FindLine(Func<string, bool> match)
    {
        ArgumentNullException.ThrowIfNull(match);
        lock (_history)
        {
            return _history.Find(l => match(l));
        }
    }

    /// <summary>Its last output lines.</summary>
    public string Output() => $"[{Name} output]{Environment.NewLine}{string.Join(Environment.NewLine, _output)}";

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        try
        {
            await KillAsync();
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }

        _process.Dispose();
    }

    private void Remember(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_history)
        {
            _history.Add(line);
        }

        _output.Enqueue(line);
        while (_output.Count > LinesKept && _output.TryDequeue(out _))
        {
        }
    }
}
