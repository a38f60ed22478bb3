using System.Diagnostics;
using System.Globalization;
using PosCuda.Shared.Ledger;
using PosCuda.Worker.Processing;
using Spectre.Console;

namespace PosCuda.Coordinator.Progress;

/// <summary>Shows a job's progress: a live bar with rate and ETA on a terminal, plain periodic lines otherwise.</summary>
public sealed class ProgressDisplay : IWorkObserver
{
    private readonly long _total;
    private readonly long _alreadyDone;
    private readonly TextWriter _plain;
    private readonly TimeSpan _plainInterval;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _done;
    private long _failed;
    private long _bytes;

    /// <param name="total">Objects the job protects in all.</param>
    /// <param name="alreadyDone">Objects finished by an earlier run (when resuming).</param>
    /// <param name="plain">Where plain progress lines go (standard error).</param>
    /// <param name="plainInterval">How often a plain line is written.</param>
    public ProgressDisplay(long total, long alreadyDone, TextWriter plain, TimeSpan plainInterval)
    {
        _total = total;
        _alreadyDone = alreadyDone;
        _plain = plain;
        _plainInterval = plainInterval;
    }

    /// <summary>Objects finished in this run.</summary>
    public long Finished => Interlocked.Read(ref _done) + Interlocked.Read(ref _failed);

    /// <inheritdoc/>
    public void ObjectCompleted(ObjectResult result)
    {
        if (result.Outcome == ObjectOutcome.Done)
        {
            Interlocked.Increment(ref _done);
            Interlocked.Add(ref _bytes, result.Bytes);
        }
        else
        {
            Interlocked.Increment(ref _failed);
        }
    }

    /// <summary>Shows progress until <paramref name="work"/> ends.</summary>
    public async Task RunAsync(Task work, bool interactive)
    {
        if (interactive)
        {
            await AnsiConsole.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
                .StartAsync(async context =>
                {
                    ProgressTask task = context.AddTask(Describe(), maxValue: Math.Max(1, _total));
                    while (!work.IsCompleted)
                    {
                        task.Value = Math.Min(_total, _alreadyDone + Finished);
                        task.Description = Describe();
                        await Task.WhenAny(work, Task.Delay(200)).ConfigureAwait(false);
                    }

                    task.Value = Math.Min(_total, _alreadyDone + Finished);
                    task.Description = Describe();
                }).ConfigureAwait(false);
        }
        else
        {
            while (!work.IsCompleted)
            {
                await Task.WhenAny(work, Task.Delay(_plainInterval)).ConfigureAwait(false);
                if (!work.IsCompleted)
                {
                    await _plain.WriteLineAsync(PlainLine()).ConfigureAwait(false);
                }
            }
        }

        await work.ConfigureAwait(false);
    }

    /// <summary>One plain progress line: counts, percentage, rate and ETA.</summary>
    public string PlainLine()
    {
        long finished = _alreadyDone + Finished;
        double rate = Rate();
        double percent = _total == 0 ? 100 : 100.0 * finished / _total;
        string eta = rate > 0 ? FormatDuration(TimeSpan.FromSeconds((_total - finished) / rate)) : "?";
        return string.Create(
            CultureInfo.InvariantCulture,
            $"progress: {finished}/{_total} objects ({percent:F1}%), {rate:F0} objects/s, {_bytes / 1e6 / Math.Max(0.001, _clock.Elapsed.TotalSeconds):F1} MB/s, failed {Interlocked.Read(ref _failed)}, ETA {eta}");
    }

    private string Describe()
        => string.Create(CultureInfo.InvariantCulture, $"protecting {_alreadyDone + Finished}/{_total} · {Rate():F0} obj/s · failed {Interlocked.Read(ref _failed)}");

    private double Rate()
    {
        double seconds = _clock.Elapsed.TotalSeconds;
        return seconds <= 0 ? 0 : Finished / seconds;
    }

    private static string FormatDuration(TimeSpan span)
        => span.TotalHours >= 1
            ? span.ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture)
            : span.ToString(@"m\:ss", CultureInfo.InvariantCulture);
}
