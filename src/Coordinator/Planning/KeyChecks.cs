using PosCuda.Shared.Storage;

namespace PosCuda.Coordinator.Planning;

/// <summary>The key checks of a job's source and destination (<see cref="ObjectKeys.CheckerFor"/>).</summary>
public sealed record KeyChecks(Func<string, string?> Source, Func<string, string?> Destination)
{
    /// <summary>Why the job cannot protect the object at <paramref name="key"/>, or null when both stores hold it.</summary>
    public string? Reason(string key)
    {
        if (Source(key) is { } source)
        {
            return "the source cannot be read at this key: " + source;
        }

        return Destination(key) is { } destination ? "the destination cannot hold this key: " + destination : null;
    }
}
