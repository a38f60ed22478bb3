using System.CommandLine;
using PosCuda.Worker.Hosting;
using System.Globalization;
using PosCuda.Shared.Protection;
using PosCuda.Shared.Storage;

namespace PosCuda.Coordinator.Cli;

/// <summary>Options several commands share: protection parameters, keyring, labels, stores, ledger.</summary>
public sealed class CommonOptions
{
    public Option<string> Keyring { get; } = new("--keyring") { Description = "The keyring file (mode 0600).", Required = true };

    public Option<string> Labels { get; } = new("--labels")
    {
        Description = "How each object's class label is found: 'dir', 'regex:PATTERN' (named group 'label') or 'csv:PATH'.",
        Required = true,
    };

    public Option<int> Taps { get; } = new("--taps") { Description = "k: filter taps (1..2040).", DefaultValueFactory = _ => 80 };

    public Option<int> Patch { get; } = new("--patch") { Description = "p: patch length in samples.", DefaultValueFactory = _ => 240 };

    public Option<double> Blur { get; } = new("--blur") { Description = "b: blur factor (> 0).", DefaultValueFactory = _ => 0.01 };

    public Option<int> Window { get; } = new("--window") { Description = "W: patches start in [0, W-p].", DefaultValueFactory = _ => 4000 };

    public Option<string> Mode { get; } = new("--mode") { Description = "positional (PosCUDA) or whole (the whole clip).", DefaultValueFactory = _ => PatchModeNames.Positional };

    public Option<string> Spec { get; } = new("--spec")
    {
        Description = "The protection spec version: poscuda-v1 (a keyed patch) or poscuda-v2 (a keyed spectral code throughout the clip; far stronger against neural learners, see the README's 'Which spec?').",
        DefaultValueFactory = _ => ProtectionParameters.DefaultSpec,
    };

    public Option<int> CodeSlots { get; } = new("--code-slots") { Description = "poscuda-v2: S, mel-spaced frequency slots (2..256).", DefaultValueFactory = _ => SpectralCodeParameters.Default.Slots };

    public Option<int> CodeWeight { get; } = new("--code-weight") { Description = "poscuda-v2: w, slots in each class's code (1..S-1).", DefaultValueFactory = _ => SpectralCodeParameters.Default.Weight };

    public Option<double> CodeMinFrequency { get; } = new("--code-fmin") { Description = "poscuda-v2: lowest coded frequency, Hz.", DefaultValueFactory = _ => SpectralCodeParameters.Default.MinFrequency };

    public Option<double> CodeMaxFrequency { get; } = new("--code-fmax") { Description = "poscuda-v2: highest coded frequency, Hz (capped at half the sample rate).", DefaultValueFactory = _ => SpectralCodeParameters.Default.MaxFrequency };

    public Option<double> CodeSnr { get; } = new("--code-snr") { Description = "poscuda-v2: the SNR in dB the perturbation's energy is budgeted to.", DefaultValueFactory = _ => SpectralCodeParameters.Default.TargetSnr };

    public Option<double> CodeDepth { get; } = new("--code-depth") { Description = "poscuda-v2: the largest attenuation factor of a coded bin, in (0, 1].", DefaultValueFactory = _ => SpectralCodeParameters.Default.Depth };

    public Option<int> BatchSize { get; } = new Option<int>("--batch-size") { Description = "Objects per batch (one class per batch).", DefaultValueFactory = _ => 256 }.AtLeast(1);

    public Option<int> MaxAttempts { get; } = new Option<int>("--max-attempts") { Description = "Attempts of a batch before it is dead-lettered.", DefaultValueFactory = _ => 5 }.AtLeast(1);

    public Option<string?> S3Endpoint { get; } = new("--s3-endpoint") { Description = "S3 endpoint URL (default: AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL)." };

    public Option<bool> S3PathStyle { get; } = new("--s3-path-style") { Description = "Path-style S3 addressing (automatic for IP and localhost endpoints)." };

    public Option<string?> Ledger { get; } = new("--ledger")
    {
        Description = "The work ledger: postgres://user:password@host:port/db, an Npgsql connection string, or sqlite:PATH (a protect state folder's ledger.db) (default: POSCUDA_LEDGER).",
    };

    // The protection-parameter options, in help order.
    private Option[] ParameterOptions => [Taps, Patch, Blur, Window, Mode, Spec, CodeSlots, CodeWeight, CodeMinFrequency, CodeMaxFrequency, CodeSnr, CodeDepth];

    /// <summary>Adds the protection-parameter options to <paramref name="command"/>.</summary>
    public void AddParameters(Command command)
    {
        foreach (Option option in ParameterOptions)
        {
            command.Options.Add(option);
        }
    }

    /// <summary>Whether any protection parameter (<c>--spec</c>, <c>--taps</c>, <c>--code-snr</c>, ...) was given on the command line.</summary>
    public bool ParametersGiven(ParseResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        return ParameterOptions.Any(o => result.GetResult(o) is { Implicit: false });
    }

    /// <summary>Adds the store options to <paramref name="command"/>.</summary>
    public void AddStores(Command command)
    {
        command.Options.Add(S3Endpoint);
        command.Options.Add(S3PathStyle);
    }

    /// <summary>Reads and validates the protection parameters.</summary>
    /// <exception cref="UsageException">A parameter is out of range.</exception>
    public ProtectionParameters ReadParameters(ParseResult result)
    {
        string modeText = result.GetValue(Mode) ?? PatchModeNames.Positional;
        PatchMode mode = PatchModeNames.TryParse(modeText)
            ?? throw new UsageException($"--mode must be '{PatchModeNames.Positional}' or '{PatchModeNames.Whole}', not '{modeText}'.");
        string spec = result.GetValue(Spec) ?? ProtectionParameters.DefaultSpec;
        try
        {
            ProtectionSpecs.Get(spec);
            var code = new SpectralCodeParameters(
                result.GetValue(CodeSlots), result.GetValue(CodeWeight), result.GetValue(CodeMinFrequency),
                result.GetValue(CodeMaxFrequency), result.GetValue(CodeSnr), result.GetValue(CodeDepth));
            return new ProtectionParameters(result.GetValue(Taps), result.GetValue(Patch), result.GetValue(Blur), result.GetValue(Window), mode, spec, code);
        }
        catch (ArgumentException e)
        {
            throw new UsageException(ParameterMessage(e), e);
        }
    }

    /// <summary>Reads the store options.</summary>
    public ObjectStoreOptions ReadStoreOptions(ParseResult result)
        => new(result.GetValue(S3Endpoint), result.GetValue(S3PathStyle));

    /// <summary>Reads the ledger location, from the option or POSCUDA_LEDGER.</summary>
    public string ReadLedger(ParseResult result)
    {
        string? ledger = result.GetValue(Ledger) ?? Environment.GetEnvironmentVariable("POSCUDA_LEDGER");
        if (string.IsNullOrWhiteSpace(ledger))
        {
            throw new UsageException("No ledger: pass --ledger postgres://user:password@host:port/db or set POSCUDA_LEDGER.");
        }

        return ledger;
    }

    private static string ParameterMessage(ArgumentException e)
    {
        string name = e.ParamName switch
        {
            "taps" => "--taps must be in 1..2040",
            "patchLength" => "--patch must be >= 1",
            "blur" => "--blur must be finite and > 0",
            "window" => "--window must be >= --patch",
            "slots" => "--code-slots must be in 2..256",
            "weight" => "--code-weight must be in 1..(--code-slots - 1)",
            "minFrequency" => "--code-fmin must be finite and >= 0",
            "maxFrequency" => "--code-fmax must be finite and above --code-fmin",
            "targetSnr" => "--code-snr must be in [0, 120]",
            "depth" => "--code-depth must be in (0, 1]",
            _ => e.Message,
        };
        return e is ArgumentOutOfRangeException { ActualValue: not null } range
            ? string.Create(CultureInfo.InvariantCulture, $"{name} (got {range.ActualValue}).")
            : name + ".";
    }
}
