using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using CliWrap;

namespace PosCuda.Testing.Processes;

/// <summary>A child process a test started: its output as it comes, signals, and its exit; killed with its whole tree on dispose.</summary>
/// <remarks>
/// <para>The one way tests start programs (built on CliWrap). <see cref="RunAsync"/> runs one to completion and kills it
/// when it overruns; <see cref="Start"/> returns a handle on a long-running one (a server, a worker, a cluster node).</para>
/// <para>Every stdout and stderr line is kept in arrival order (<see cref="Output"/>); <see cref="Describe"/> gives the
/// tail, stderr included, for failure messages, and every timeout this type throws carries it.</para>
/// </remarks>
public sealed class ChildProcess : IAsyncDisposable
{
    private const int DescribedLines = 60;
    private const int DescribedErrorLines = 20;

    private readonly Lock _gate = new();
    private readonly List<string> _lines = [];
    private readonly List<string> _errorLines = [];
    private readonly List<OutputWaiter> _waiters = [];
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly Process _process;
    private readonly Task<int> _exit;
    private int? _exitCode;

    private ChildProcess(ChildCommand command)
    {
        Command = command;
        Command cli = Cli.Wrap(command.FileName)
            .WithArguments(command.Arguments)
            .WithEnvironmentVariables(command.Environment)
            .WithValidation(CommandResultValidation.None)
            .WithStandardOutputPipe(PipeTarget.Merge(
                PipeTarget.ToStringBuilder(_stdout, Encoding.UTF8), PipeTarget.ToDelegate(line => Remember(line, isError: false), Encoding.UTF8)))
            .WithStandardErrorPipe(PipeTarget.Merge(
                PipeTarget.ToStringBuilder(_stderr, Encoding.UTF8), PipeTarget.ToDelegate(line => Remember(line, isError: true), Encoding.UTF8)));
        if (command.WorkingDirectory is not null)
        {
            cli = cli.WithWorkingDirectory(command.WorkingDirectory);
        }

        // The process object is kept only to kill the tree it heads; CliWrap owns it and reaps it.
        Process? process = null;
        CommandTask<CommandResult> execution = cli.ExecuteAsync(null, p => process = p);
        _process = process ?? throw new InvalidOperationException($"CliWrap started {command.DisplayName} without handing over its process.");
        Id = execution.ProcessId;
        _exit = ObserveExitAsync(execution);
    }

    /// <summary>How long <see cref="KillAsync"/> and <see cref="DisposeAsync"/> wait for a killed process to be reaped.</summary>
    public static TimeSpan StopTimeout { get; } = TimeSpan.FromSeconds(10);

    /// <summary>What was started.</summary>
    public ChildCommand Command { get; }

    /// <summary>The name failure messages give it.</summary>
    public string Name => Command.DisplayName;

    /// <summary>The operating system's process id.</summary>
    public int Id { get; }

    /// <summary>Whether it has exited.</summary>
    public bool HasExited => _exit.IsCompleted || ProcessHasExited();

    /// <summary>Its exit code once it has exited and its output is read to the end; null before.</summary>
    /// <remarks>A process ended by a signal reports 128 + the signal's number (137 after SIGKILL).</remarks>
    public int? ExitCode => _exit.IsCompletedSuccessfully ? _exit.Result : null;

    /// <summary>Every line it wrote so far, stdout and stderr in arrival order.</summary>
    public IReadOnlyList<string> Output
    {
        get
        {
            lock (_gate)
            {
                return [.. _lines];
            }
        }
    }

    /// <summary>Every line it wrote to stderr so far.</summary>
    public IReadOnlyList<string> ErrorOutput
    {
        get
        {
            lock (_gate)
            {
                return [.. _errorLines];
            }
        }
    }

    /// <summary>How many lines it wrote so far (an index for <see cref="WaitForOutputAsync"/>'s <c>startAt</c>).</summary>
    public int LineCount
    {
        get
        {
            lock (_gate)
            {
                return _lines.Count;
            }
        }
    }

    /// <summary>Starts <paramref name="command"/> and returns at once.</summary>
    /// <exception cref="Win32Exception">The program cannot be started (not found, not executable).</exception>
    public static ChildProcess Start(ChildCommand command)
    {
        ArgumentNullException.ThrowIfNull(command);
        return new ChildProcess(command);
    }

    /// <summary>Runs <paramref name="command"/> to completion and returns its exit code and output.</summary>
    /// <exception cref="TimeoutException">It ran longer than <paramref name="timeout"/>: its process tree was killed; the message holds its output.</exception>
    /// <exception cref="Win32Exception">The program cannot be started.</exception>
    public static async Task<ChildProcessResult> RunAsync(ChildCommand command, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeout, TimeSpan.Zero);
        await using ChildProcess child = Start(command);
        try
        {
            await child._exit.WaitAsync(timeout, cancellationToken);
        }
        catch (TimeoutException)
        {
            await child.KillAsync();
            throw new TimeoutException($"{command} ran longer than {Seconds(timeout)} s and was killed. {child.Describe()}");
        }

        return child.Result();
    }

    /// <summary>Waits until it writes a line (stdout or stderr) that <paramref name="predicate"/> accepts and returns that line.</summary>
    /// <param name="predicate">The test on each line.</param>
    /// <param name="timeout">How long to wait.</param>
    /// <param name="startAt">The index of the first line to consider: 0 (every line since the start) or an earlier <see cref="LineCount"/>.</param>
    /// <param name="cancellationToken">Stops the wait.</param>
    /// <exception cref="TimeoutException">No such line came in time; the message holds the output.</exception>
    /// <exception cref="InvalidOperationException">It exited without writing such a line; the message holds the output.</exception>
    public async Task<string> WaitForOutputAsync(Func<string, bool> predicate, TimeSpan timeout, int startAt = 0, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        ArgumentOutOfRangeException.ThrowIfNegative(startAt);
        var waiter = new OutputWaiter(predicate, startAt);
        lock (_gate)
        {
            for (int i = startAt; i < _lines.Count; i++)
            {
                if (predicate(_lines[i]))
                {
                    return _lines[i];
                }
            }

            if (_exitCode is { } code)
            {
                throw ExitedBeforeOutput(code);
            }

            _waiters.Add(waiter);
        }

        try
        {
            return await waiter.Task.WaitAsync(timeout, cancellationToken);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"{Name} wrote no awaited line within {Seconds(timeout)} s. {Describe()}");
        }
        finally
        {
            lock (_gate)
            {
                _waiters.Remove(waiter);
            }
        }
    }

    /// <summary>Sends <paramref name="signal"/> to the process (not to its children).</summary>
    /// <returns>False when the process was already gone.</returns>
    /// <exception cref="Win32Exception">The signal could not be sent for another reason.</exception>
    public bool Signal(UnixSignal signal)
    {
        if (_exit.IsCompleted)
        {
            return false;
        }

        if (SendSignal(Id, (int)signal) == 0)
        {
            return true;
        }

        int error = Marshal.GetLastPInvokeError();
        const int NoSuchProcess = 3; // ESRCH
        return error == NoSuchProcess ? false : throw new Win32Exception(error, $"kill -{(int)signal} {Id} ({Name}) failed");
    }

    /// <summary>Kills the process and every descendant at once (SIGKILL) and waits until it is reaped.</summary>
    /// <exception cref="TimeoutException">It was not reaped within <see cref="StopTimeout"/>.</exception>
    public async Task KillAsync()
    {
        if (!_exit.IsCompleted)
        {
            try
            {
                _process.Kill(entireProcessTree: true);
            }
            catch (Exception e) when (e is InvalidOperationException or AggregateException or Win32Exception)
            {
                // It exited (and may already be disposed by CliWrap) while being killed.
            }
        }

        try
        {
            await _exit.WaitAsync(StopTimeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"{Name} was killed but not reaped within {Seconds(StopTimeout)} s. {Describe()}");
        }
    }

    /// <summary>Steps the process (SIGSTOP, check, SIGCONT, about a millisecond of running) and kills it (SIGKILL) the first time
    /// <paramref name="ready"/> holds while it is frozen, so that what the check saw is what the process dies with.</summary>
    /// <remarks>No race and no sleep-and-hope: however fast the process is, it advances only a step between two checks, so a
    /// test that wants it killed halfway gets it killed halfway. The step is a blocking 1 ms sleep, bounded by the kernel's
    /// timer; an awaited delay resumes when the thread pool gets to it, which under a loaded test run can be long enough for
    /// the whole of the work to pass unobserved.</remarks>
    /// <param name="ready">Checked only while the process is stopped; may read what it writes (files, a ledger).</param>
    /// <param name="timeout">How long to keep stepping before giving up.</param>
    /// <param name="what">What the test waits for, for the failure messages.</param>
    /// <exception cref="InvalidOperationException">The process exited before <paramref name="ready"/> held.</exception>
    /// <exception cref="TimeoutException"><paramref name="ready"/> did not hold in time (the process is killed).</exception>
    public async Task KillWhenAsync(Func<Task<bool>> ready, TimeSpan timeout, string what)
    {
        DateTime deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (!Signal(UnixSignal.Stop))
            {
                throw new InvalidOperationException($"{Name} exited before {what}. {Describe()}");
            }

            if (await ready())
            {
                await KillAsync();
                return;
            }

            Signal(UnixSignal.Continue);
            Thread.Sleep(1);
        }

        await KillAsync();
        throw new TimeoutException($"{Name} did not reach {what} within {Seconds(timeout)} s. {Describe()}");
    }

    /// <summary>Waits for it to exit and returns its exit code.</summary>
    /// <exception cref="TimeoutException">It did not exit in time (it keeps running); the message holds its output.</exception>
    public async Task<int> WaitForExitAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        try
        {
            return await _exit.WaitAsync(timeout, cancellationToken);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"{Name} did not exit within {Seconds(timeout)} s. {Describe()}");
        }
    }

    /// <summary>Its state and last output lines (and last stderr lines), for failure messages.</summary>
    public string Describe()
    {
        lock (_gate)
        {
            string state = _exitCode is { } code ? $"exit {code.ToString(CultureInfo.InvariantCulture)}" : "running";
            var text = new StringBuilder().Append('[').Append(Name).Append(", ").Append(state).Append(", last ")
                .Append(Math.Min(DescribedLines, _lines.Count)).Append(" of ").Append(_lines.Count).Append(" output lines]");
            foreach (string line in _lines.TakeLast(DescribedLines))
            {
                text.AppendLine().Append(line);
            }

            if (_errorLines.Count > 0)
            {
                text.AppendLine().Append('[').Append(Name).Append(", last ").Append(Math.Min(DescribedErrorLines, _errorLines.Count)).Append(" stderr lines]");
                foreach (string line in _errorLines.TakeLast(DescribedErrorLines))
                {
                    text.AppendLine().Append(line);
                }
            }

            return text.ToString();
        }
    }

    /// <inheritdoc />
    public override string ToString() => $"{Name} (pid {Id})";

    /// <summary>Kills the process tree if it still runs and waits (at most <see cref="StopTimeout"/>) until it is reaped.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await KillAsync();
        }
        catch (TimeoutException)
        {
            // Killed; the kernel reaps it without us.
        }
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SendSignal(int pid, int signal);

    private static string Seconds(TimeSpan span) => span.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture);

    private ChildProcessResult Result() => new(_exit.Result, _stdout.ToString(), _stderr.ToString());

    private bool ProcessHasExited()
    {
        try
        {
            return _process.HasExited;
        }
        catch (InvalidOperationException)
        {
            return true; // CliWrap disposed it: it has exited.
        }
    }

    private async Task<int> ObserveExitAsync(CommandTask<CommandResult> execution)
    {
        // CliWrap completes once the process has exited and both pipes are read to the end.
        CommandResult result = await execution;
        OutputWaiter[] left;
        lock (_gate)
        {
            _exitCode = result.ExitCode;
            left = [.. _waiters];
            _waiters.Clear();
        }

        foreach (OutputWaiter waiter in left)
        {
            waiter.TrySetException(ExitedBeforeOutput(result.ExitCode));
        }

        return result.ExitCode;
    }

    private InvalidOperationException ExitedBeforeOutput(int exitCode)
        => new($"{Name} exited with code {exitCode.ToString(CultureInfo.InvariantCulture)} without writing the awaited line. {Describe()}");

    private void Remember(string line, bool isError)
    {
        lock (_gate)
        {
            _lines.Add(line);
            if (isError)
            {
                _errorLines.Add(line);
            }

            int index = _lines.Count - 1;
            for (int i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Offer(line, index))
                {
                    _waiters.RemoveAt(i);
                }
            }
        }
    }

    /// <summary>One <see cref="WaitForOutputAsync"/> call waiting for its line.</summary>
    private sealed class OutputWaiter(Func<string, bool> predicate, int startAt) : TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        /// <summary>Tests a new line; true when the wait is over (matched, or the predicate threw).</summary>
        public bool Offer(string line, int index)
        {
            if (index < startAt)
            {
                return false;
            }

            try
            {
                return predicate(line) && TrySetResult(line);
            }
            catch (Exception e)
            {
                return TrySetException(e);
            }
        }
    }
}
