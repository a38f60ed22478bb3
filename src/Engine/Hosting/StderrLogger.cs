using System.Globalization;
using Akka.Actor;
using Akka.Event;

namespace PosCuda.Engine.Hosting;

/// <summary>Writes the actor system's log to standard error in the tools' one-line format, keeping standard output for results.</summary>
public sealed class StderrLogger : ReceiveActor
{
    /// <summary>Creates the logger (Akka does, from <c>akka.loggers</c>).</summary>
    public StderrLogger()
    {
        Receive<InitializeLogger>(_ => Sender.Tell(new LoggerInitialized()));
        Receive<LogEvent>(Write);
    }

    private static void Write(LogEvent e)
    {
        string level = e.LogLevel() switch
        {
            LogLevel.ErrorLevel => "fail",
            LogLevel.WarningLevel => "warn",
            LogLevel.InfoLevel => "info",
            _ => "dbug",
        };
        string cause = e is Error { Cause: { } c } ? $" ({c.GetType().Name}: {c.Message})" : "";
        Console.Error.WriteLine(string.Create(
            CultureInfo.InvariantCulture, $"{e.Timestamp.ToLocalTime():HH:mm:ss} {level}: [{e.LogSource}] {e.Message}{cause}"));
    }
}
