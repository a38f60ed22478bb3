using System.Security.Cryptography;
using System.Text;
using PosCuda.Shared.Labels;
using PosCuda.Shared.Storage;

namespace PosCuda.Coordinator.Cli;

/// <summary>Command-line checks on source and destination locations and label rules.</summary>
public static class Locations
{
    /// <summary>Normalises a location: <c>s3://</c> without a trailing slash, folders as full paths.</summary>
    public static string Normalise(string location)
    {
        ArgumentNullException.ThrowIfNull(location);
        if (location.StartsWith("s3://", StringComparison.Ordinal))
        {
            return location.TrimEnd('/');
        }

        string path = location.StartsWith("file://", StringComparison.Ordinal) ? new Uri(location).LocalPath : location;
        return Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
    }

    /// <summary>Refuses a destination equal to or inside the source.</summary>
    /// <exception cref="UsageException">It is.</exception>
    public static void EnsureNotWithin(string destination, string source)
    {
        if (ObjectStore.IsWithin(destination, source))
        {
            throw new UsageException($"DST '{destination}' is SRC or inside it; poscuda never writes into its source.");
        }
    }

    /// <summary>Parses a label rule, as a usage error when malformed.</summary>
    public static LabelRule ParseLabels(string rule)
    {
        try
        {
            return LabelRule.Parse(rule);
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message, e);
        }
    }

    /// <summary>The default state folder for a destination: <c>DST.poscuda-state</c> beside a local one,
    /// <c>./.poscuda-state/&lt;hash&gt;</c> for S3.</summary>
    public static string DefaultStatePath(string destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        if (!destination.StartsWith("s3://", StringComparison.Ordinal))
        {
            return destination + ".poscuda-state";
        }

        string hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(destination)))[..16];
        return Path.Combine(Directory.GetCurrentDirectory(), ".poscuda-state", hash);
    }
}
