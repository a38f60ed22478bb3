using Microsoft.Extensions.Logging;
using PosCuda.Coordinator.Cli;

namespace PosCuda.Pipeline.Tests.Cli;

public sealed class WarningWriterTests
{
    [Fact]
    public void Log_WarningsAndErrors_OneLineEachWithLevelAndCategory_InformationDropped()
    {
        using var output = new StringWriter();
        ILogger logger = new WarningWriter("worker", output);

        logger.LogInformation("Claimed batch {BatchId}", 7);
        logger.LogWarning("Heartbeat for batch {BatchId} failed ({Error}); retrying", 7, "timeout");
        logger.LogError("Batch {BatchId} failed", 8);
        logger.LogCritical("gone");

        Assert.Equal(
            ["warn: worker: Heartbeat for batch 7 failed (timeout); retrying", "fail: worker: Batch 8 failed", "crit: worker: gone"],
            output.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries));
        Assert.False(logger.IsEnabled(LogLevel.Information));
        Assert.False(logger.IsEnabled(LogLevel.None));
    }
}
