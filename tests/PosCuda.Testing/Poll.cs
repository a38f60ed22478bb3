using PosCuda.Shared;

namespace PosCuda.Testing;

/// <summary>Polls a condition with a deadline instead of sleeping and hoping.</summary>
public static class Poll
{
    private static readonly TimeSpan s_interval = TimeSpan.FromMilliseconds(100);

    /// <summary>Probes until <paramref name="done"/> holds for the probe's value and returns that value.</summary>
    /// <remarks>Transient ledger errors (a restarting server) count as "not yet".</remarks>
    /// <exception cref="TimeoutException">The deadline passed; the message says what was awaited and the last value seen.</exception>
    public static async Task<T> UntilAsync<T>(Func<Task<T>> probe, Func<T, bool> done, TimeSpan timeout, string what, Func<string>? diagnostics = null)
    {
        ArgumentNullException.ThrowIfNull(probe);
        ArgumentNullException.ThrowIfNull(done);
        DateTime deadline = DateTime.UtcNow + timeout;
        T? last = default;
        while (true)
        {
            try
            {
                last = await probe();
                if (done(last))
                {
                    return last;
                }
            }
            catch (PosCudaException e) when (e.IsTransient)
            {
                // The ledger is restarting; ask again.
            }

            if (DateTime.UtcNow >= deadline)
            {
                throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0} s waiting for {what}; last seen: {last}. {diagnostics?.Invoke()}");
            }

            await Task.Delay(s_interval);
        }
    }

    /// <summary>Waits until <paramref name="condition"/> holds.</summary>
    /// <exception cref="TimeoutException">The deadline passed.</exception>
    public static Task UntilAsync(Func<bool> condition, TimeSpan timeout, string what, Func<string>? diagnostics = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        return UntilAsync(() => Task.FromResult(condition()), static ok => ok, timeout, what, diagnostics);
    }
}
