using System.CommandLine;
using System.Globalization;
using PosCuda.Engine.Processing;

namespace PosCuda.Worker.Hosting;

/// <summary><c>--memory-limit SIZE</c>, shared by <c>poscuda protect</c> and <c>poscuda-worker</c>: the process's memory bound.</summary>
public static class MemoryLimitOption
{
    /// <summary>Creates the option; its value is in bytes.</summary>
    public static Option<long> Create() => new("--memory-limit")
    {
        Description = "Memory for the whole process, e.g. 256MB, 1GB (objects take what they buffer from it; concurrency adapts). Default 256MB.",
        DefaultValueFactory = _ => MemoryBudget.DefaultLimitBytes,
        CustomParser = result =>
        {
            string text = result.Tokens.Count == 1 ? result.Tokens[0].Value : string.Empty;
            if (TryParse(text, out long bytes) && bytes >= MinimumBytes)
            {
                return bytes;
            }

            result.AddError($"--memory-limit: '{text}' is not a size of at least {MinimumBytes / 1_000_000} MB (write e.g. 256MB, 2GB, 512MiB).");
            return 0;
        },
    };

    /// <summary>The smallest limit accepted.</summary>
    public const long MinimumBytes = 192L * 1000 * 1000;

    /// <summary>Parses a size: a number of bytes, or a number followed by KB, MB, GB (powers of 1000) or KiB, MiB, GiB.</summary>
    public static bool TryParse(string text, out long bytes)
    {
        bytes = 0;
        ReadOnlySpan<char> span = text.AsSpan().Trim();
        int end = 0;
        while (end < span.Length && (char.IsAsciiDigit(span[end]) || span[end] == '.'))
        {
            end++;
        }

        if (end == 0 || !double.TryParse(span[..end], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double value))
        {
            return false;
        }

        double scale = span[end..].Trim().ToString().ToUpperInvariant() switch
        {
            "" or "B" => 1,
            "K" or "KB" => 1e3,
            "M" or "MB" => 1e6,
            "G" or "GB" => 1e9,
            "KIB" => 1024,
            "MIB" => 1024 * 1024,
            "GIB" => 1024.0 * 1024 * 1024,
            _ => 0,
        };
        if (scale == 0 || value * scale > long.MaxValue)
        {
            return false;
        }

        bytes = (long)(value * scale);
        return true;
    }
}
