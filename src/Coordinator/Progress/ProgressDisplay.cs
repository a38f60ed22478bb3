using PosCuda.Coordinator.Reports;
using System.Diagnostics;
using System.Globalization;
using PosCuda.Shared.Ledger;
using PosCuda.Engine.Processing;
using Spectre.Console;

namespace PosCuda.Coordinator.Progress;

/// <summary>Shows a job's progress: a live bar with rate and ETA on a terminal, plain periodic lines otherwise.</summary>
public sealed class ProgressDisplay : IWorkObserver
{
    private long _total = -1;
    private long _alreadyDone;
    private readonly TextWriter _plain;
    private readonly TimeSpan _plainInterval;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _done;
    private long _failed;
    private long _bytes;

    /// <param name="plain">Where plain progress lines go (standard error).</param>
    /// <param name="plainInterval">How often a plain line is written.</param>
    /// <remarks>The job's size is unknown until planning ends: see <see cref="SetTotal"/>.</remarks>
    public ProgressDisplay(TextWriter plain, TimeSpan plainInterval)
    {
        _plain = plain;
        _plainInterval = plainInterval;
    }

    /// <summary>Sets the job's size and the objects finished by earlier runs (when resuming).</summary>
    public void SetTotal(long total, long alreadyDone)
    {
        Interlocked.Exchange(ref _alreadyDone, Math.Max(0, alreadyDone));
        Interlocked.Exchange(ref _total, total);
    }

    /// <summary>Objects finished in this run.</summary>
    public long Finished => Interlocked.Read(ref _done) + Interlocked.Read(ref _failed);

    /// <summary>The bytes this run read and wrote, per object and in all.</summary>
    public TransferTally Transfer { get; } = new();

    /// <inheritdoc/>
    public void ObjectCompleted(ObjectResult result)
    {
        Transfer.Add(result);
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
                    ProgressTask task = context.AddTask(Describe());
                    task.IsIndeterminate = true;
                    while (!work.IsCompleted)
                    {
                        Update(task);
                        await Task.WhenAny(work, Task.Delay(200)).ConfigureAwait(false);
                    }

                    Update(task);
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
        if (Interlocked.Read(ref _total) < 0)
        {
            return string.Create(CultureInfo.InvariantCulture, $"progress: {finished} objects (still listing), {rate:F0} objects/s, failed {Interlocked.Read(ref _failed)}");
        }

        double percent = _total == 0 ? 100 : 100.0 * finished / _total;
        string eta = rate > 0 ? FormatDuration(TimeSpan.FromSeconds((_total - finished) / rate)) : "?";
        return string.Create(
            CultureInfo.InvariantCulture,
            $"progress: {finished}/{_total} objects ({percent:F1}%), {rate:F0} objects/s, {_bytes / 1e6 / Math.Max(0.001, _clock.Elapsed.TotalSeconds):F1} MB/s, failed {Interlocked.Read(ref _failed)}, ETA {eta}");
    }

    private void Update(ProgressTask task)
    {
        long total = Interlocked.Read(ref _total);
        if (total >= 0)
        {
            task.IsIndeterminate = false;
            task.MaxValue = Math.Max(1, total);
            task.Value = Math.Min(total, _alreadyDone + Finished);
        }

        task.Description = Describe();
    }

    private string Describe()
    {
        long total = Interlocked.Read(ref _total);
        string of = total < 0 ? " (listing)" : $"/{total}";
        return string.Create(CultureInfo.InvariantCulture, $"protecting {_alreadyDone + Finished}{of} · {Rate():F0} obj/s · failed {Interlocked.Read(ref _failed)}");
    }

    private double Rate()
    {
        double seconds = _clock.Elapsed.TotalSeconds;
        return seconds <= 0 ? 0 : Finished / seconds;
    }

    /// <summary>A duration for people: <c>m:ss</c> under an hour, else whole hours (past 24 too) then <c>:mm:ss</c>.</summary>
    public static string FormatDuration(TimeSpan span)
        => span.TotalHours >= 1
            ? string.Create(CultureInfo.InvariantCulture, $"{(long)span.TotalHours}:{span.Minutes:D2}:{span.Seconds:D2}")
            : span.ToString(@"m\:ss", CultureInfo.InvariantCulture);
}
