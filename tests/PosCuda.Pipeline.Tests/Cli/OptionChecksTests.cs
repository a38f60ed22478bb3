using PosCuda.Coordinator.Cli;
using PosCuda.Worker.Hosting;

namespace PosCuda.Pipeline.Tests.Cli;

public sealed class OptionChecksTests
{
    // Every other argument is well formed (the files need not exist): only the range check can make these exit 2,
    // before anything is opened; without it the tools would fail later, on the missing keyring, with exit 1.
    [Theory]
    [InlineData("--batch-size", "0")]
    [InlineData("--max-attempts", "0")]
    public async Task Submit_OutOfRangeOption_IsUsageError(string option, string value)
    {
        int code = await PoscudaCli.RunAsync(
            ["submit", "/no/src", "/no/dst", "--ledger", "sqlite:/no/ledger.db", "--keyring", "/no/keyring.json", "--labels", "dir", option, value]);

        Assert.Equal(ExitCodes.Usage, code);
    }

    [Theory]
    [InlineData("--concurrency", "0")]
    [InlineData("--slots", "0")]
    [InlineData("--lease-seconds", "0")]
    public async Task Worker_OutOfRangeOption_IsUsageError(string option, string value)
    {
        int code = await WorkerCli.RunAsync(["--ledger", "sqlite:/no/ledger.db", "--keyring", "/no/keyring.json", option, value]);

        Assert.Equal(ExitCodes.Usage, code);
    }
}
