using System.CommandLine;
using PosCuda.Shared.Telemetry;

namespace PosCuda.Coordinator.Cli;

/// <summary>The <c>poscuda</c> command line: parses, dispatches, and maps errors to exit codes.</summary>
public static class PoscudaCli
{
    /// <summary>Builds the root command.</summary>
    public static RootCommand Build()
    {
        var common = new CommonOptions();
        return new RootCommand("PosCuda.Pipeline: protect audio datasets against unauthorised training (PosCUDA, spec poscuda-v1).")
        {
            ProtectCommand.Create(common),
            SubmitCommand.Create(common),
            CoordinatorCommand.Create(common),
            StatusCommand.Create(common),
            KeyringCommand.Create(),
            VaultCommand.Create(),
            RekeyCommand.Create(common),
            RestoreCommand.Create(common),
            VerifyCommand.Create(common),
            QualityCommand.Create(common),
            AuditCommand.Create(common),
        };
    }

    /// <summary>Runs the tool and returns its exit code: 0 ok, 3 some objects failed, 2 usage error, 1 anything else.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        ParseResult parse = Build().Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (System.CommandLine.Parsing.ParseError error in parse.Errors)
            {
                await Console.Error.WriteLineAsync($"poscuda: {error.Message}").ConfigureAwait(false);
            }

            await Console.Error.WriteLineAsync("Run 'poscuda --help' for usage.").ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        // OTLP export when the OTEL_* environment asks for it; disposing flushes what is left at exit.
        using IDisposable? telemetry = TelemetryRole(parse) is string role ? TelemetrySetup.Start(role) : null;
        try
        {
            return await parse.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false }).ConfigureAwait(false);
        }
        catch (UsageException e)
        {
            await Console.Error.WriteLineAsync($"poscuda: {e.Message}").ConfigureAwait(false);
            return ExitCodes.Usage;
        }
        catch (OperationCanceledException)
        {
            await Console.Error.WriteLineAsync("poscuda: cancelled.").ConfigureAwait(false);
            return ExitCodes.Error;
        }
        catch (Exception e)
        {
            await Console.Error.WriteLineAsync($"poscuda: {e.Message}").ConfigureAwait(false);
            return ExitCodes.Error;
        }
    }

    private static string? TelemetryRole(ParseResult parse) => parse.CommandResult.Command.Name switch
    {
        "protect" or "rekey" or "restore" => TelemetrySetup.ProtectRole,
        "coordinator" or "submit" => TelemetrySetup.CoordinatorRole,
        _ => null,
    };
}
