using System.CommandLine;

namespace PosCuda.Worker.Hosting;

/// <summary>Range checks for numeric command-line options, so a bad value is a usage error (exit 2) of whichever
/// tool parses it, before anything runs.</summary>
public static class OptionChecks
{
    /// <summary>Requires the value to be at least <paramref name="minimum"/>; returns the option.</summary>
    public static Option<int> AtLeast(this Option<int> option, int minimum)
    {
        ArgumentNullException.ThrowIfNull(option);
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() < minimum)
            {
                result.AddError($"{option.Name} must be at least {minimum}.");
            }
        });
        return option;
    }

    /// <summary>Requires the value to be greater than zero; returns the option.</summary>
    public static Option<double> Positive(this Option<double> option)
    {
        ArgumentNullException.ThrowIfNull(option);
        option.Validators.Add(result =>
        {
            if (!(result.GetValueOrDefault<double>() > 0))
            {
                result.AddError($"{option.Name} must be greater than 0.");
            }
        });
        return option;
    }
}
