using System.Diagnostics;
using System.Text;

namespace PosCuda.Pipeline.Tests.Telemetry;

/// <summary>Runs the built <c>poscuda</c> tool (<c>dotnet poscuda.dll</c> beside the tests) as a child process and captures its output.</summary>
public static class PoscudaProcess
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(120);

    /// <summary>Runs <c>poscuda ARGS</c> with no <c>OTEL_*</c> variable but those in <paramref name="environment"/>, and waits for it to exit.</summary>
    /// <exception cref="TimeoutException">It ran longer than two minutes (it is killed).</exception>
    public static async Task<PoscudaRun> RunAsync(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "poscuda.dll"));
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        // The child sees only the telemetry settings the test chose, whatever this process inherited.
        foreach (string name in start.Environment.Keys.Where(k => k.StartsWith("OTEL_", StringComparison.Ordinal)).ToArray())
        {
            start.Environment.Remove(name);
        }

        foreach ((string name, string value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        using Process process = Process.Start(start) ?? throw new InvalidOperationException("Could not start poscuda.");
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(s_timeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            throw new TimeoutException($"poscuda {string.Join(' ', start.ArgumentList.Skip(1))} ran longer than {s_timeout.TotalSeconds} s.");
        }

        return new PoscudaRun(process.ExitCode, await stdout, await stderr);
    }
}
