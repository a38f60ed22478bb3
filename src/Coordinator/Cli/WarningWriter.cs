using Microsoft.Extensions.Logging;

namespace PosCuda.Coordinator.Cli;

/// <summary>The one-machine tool's logger: warnings and errors, one line each, on standard error.</summary>
/// <remarks>
/// <c>poscuda protect</c> logs only when something goes wrong, so it does without the console logging provider, whose
/// dependency-injection, options and configuration assemblies took longer to start than a small job takes to run.
/// </remarks>
public sealed class WarningWriter(string category, TextWriter output) : ILogger
{
    private static readonly Lock s_lock = new();

    /// <inheritdoc/>
    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    /// <inheritdoc/>
    public bool IsEnabled(LogLevel logLevel) => logLevel is >= LogLevel.Warning and < LogLevel.None;

    /// <inheritdoc/>
    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        ArgumentNullException.ThrowIfNull(formatter);
        if (!IsEnabled(logLevel))
        {
            return;
        }

        string level = logLevel switch
        {
            LogLevel.Warning => "warn",
            LogLevel.Error => "fail",
            _ => "crit",
        };
        string line = $"{level}: {category}: {formatter(state, exception)}";
        lock (s_lock)
        {
            output.WriteLine(line);
        }
    }
}
