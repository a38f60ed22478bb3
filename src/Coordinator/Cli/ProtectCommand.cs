using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using PosCuda.Coordinator.Maintenance;
using PosCuda.Coordinator.Planning;
using PosCuda.Coordinator.Progress;
using PosCuda.Coordinator.Reports;
using PosCuda.Engine.Batches;
using PosCuda.Engine.Hosting;
using PosCuda.Engine.Processing;
using PosCuda.Gpu;
using PosCuda.Shared.Labels;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Protection;
using PosCuda.Shared.Storage;
using PosCuda.Shared.Vault;
using PosCuda.Worker.Hosting;

namespace PosCuda.Coordinator.Cli;

/// <summary><c>poscuda protect SRC DST</c>: a whole job on one machine, with an embedded, resumable SQLite ledger.</summary>
public static class ProtectCommand
{
    // Batches are opened to the workers every this many planned objects, so protecting starts while listing goes on.
    private const int StreamEvery = 8192;

    /// <summary>Builds the command.</summary>
    public static Command Create(CommonOptions common)
    {
        var source = new Argument<string>("SRC") { Description = "Source: a folder or s3://bucket/prefix." };
        var destination = new Argument<string>("DST") { Description = "Destination: a folder or s3://bucket/prefix (not inside SRC)." };
        var report = new Option<string?>("--report") { Description = "Write a JSON report (totals, parameters, key, every failure) to this file." };
        var state = new Option<string?>("--state")
        {
            Description = "State folder holding the resumable ledger (default: DST.poscuda-state beside a local DST, else ./.poscuda-state/<hash>).",
        };
        var concurrency = new Option<int>("--concurrency")
        {
            Description = "Objects in flight at once (default: 2 x cores for folders, 16 x cores for S3).",
        }.AtLeast(0);
        var quiet = new Option<bool>("--quiet") { Description = "No progress display." };
        Option<string> device = DeviceOption.Create();
        Option<long> memoryLimit = MemoryLimitOption.Create();

        var vault = new VaultOptions();
        var command = new Command("protect", "Protect every clip of SRC into DST on this machine (resumable: run it again to finish an interrupted job).")
        {
            source, destination, common.Keyring, common.Labels, report, state, concurrency, quiet, common.BatchSize, common.MaxAttempts, device,
            vault.File, vault.Store, memoryLimit,
        };
        common.AddParameters(command);
        common.AddStores(command);
        command.SetAction((result, ct) => RunAsync(
            new Request(
                result.GetRequiredValue(source),
                result.GetRequiredValue(destination),
                result.GetRequiredValue(common.Keyring),
                result.GetRequiredValue(common.Labels),
                common.ReadParameters(result),
                common.ReadStoreOptions(result),
                result.GetValue(report),
                result.GetValue(state),
                result.GetValue(concurrency),
                result.GetValue(common.BatchSize),
                result.GetValue(common.MaxAttempts),
                result.GetValue(quiet))
            {
                Device = result.GetRequiredValue(device),
                Operation = vault.ReadRecordsOperation(result),
                MemoryLimitBytes = result.GetValue(memoryLimit),
            },
            ct));
        return command;
    }

    /// <summary>What <c>protect</c> was asked to do.</summary>
    public sealed record Request(
        string Source,
        string Destination,
        string KeyringPath,
        string LabelRule,
        ProtectionParameters Parameters,
        ObjectStoreOptions StoreOptions,
        string? ReportPath,
        string? StatePath,
        int Concurrency,
        int BatchSize,
        int MaxAttempts,
        bool Quiet)
    {
        /// <summary>The process's memory limit (<c>--memory-limit</c>): objects buffer only what fits in it.</summary>
        public long MemoryLimitBytes { get; init; } = MemoryBudget.DefaultLimitBytes;

        /// <summary>Rekey, restore, or restore records to write; null for a plain protect.</summary>
        public JobOperation? Operation { get; init; }

        /// <summary>The vault key (with its private half) where the job reads restore records.</summary>
        public VaultKey? Vault { get; init; }

        /// <summary>The <c>--device</c> the patch convolution runs on (auto, cpu, cuda, ilgpu-cpu).</summary>
        public string Device { get; init; } = "auto";

        /// <summary>False where no protection parameter was given on the command line: a rekey then re-protects with
        /// those of the latest job that wrote the destination (in the state folder's ledger), not the defaults.</summary>
        public bool ParametersGiven { get; init; } = true;
    }

    /// <summary>Runs a protect job and returns the exit code.</summary>
    public static async Task<int> RunAsync(Request request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var clock = Stopwatch.StartNew();
        LabelRule labels = Locations.ParseLabels(request.LabelRule);
        string source = Locations.Normalise(request.Source);
        string destination = Locations.Normalise(request.Destination);
        JobKind kind = request.Operation?.Kind ?? JobKind.Protect;
        if (kind != JobKind.Rekey)
        {
            Locations.EnsureNotWithin(destination, source);
        }

        // A restore needs no protection key: the records and the vault key are all it reads.
        Keyring keyring = kind == JobKind.Restore ? Keyring.Create() : KeyringFile.Load(request.KeyringPath);
        string keyId = kind == JobKind.Restore ? "vault-" + request.Vault!.KeyId : keyring.KeyId;
        int keyVersion = kind == JobKind.Restore ? 1 : keyring.Active;
        IPatchEngine patchEngine;
        try
        {
            patchEngine = PatchEngines.Create(PatchEngines.Parse(request.Device));
        }
        catch (InvalidOperationException e)
        {
            throw new UsageException($"--device {request.Device}: {e.Message}", e);
        }

        using IDisposable? patchEngineLifetime = patchEngine as IDisposable;
        string statePath = request.StatePath ?? Locations.DefaultStatePath(destination);
        Directory.CreateDirectory(statePath);
        using StateFolderLock stateLock = StateFolderLock.Acquire(statePath);

        await using IWorkLedger ledger = WorkLedger.Open("sqlite:" + Path.Combine(statePath, "ledger.db"));
        await ledger.MigrateAsync(cancellationToken).ConfigureAwait(false);
        await using var stores = new ObjectStoreCache(request.StoreOptions);

        TextWriter err = Console.Error;
        ProtectionParameters parameters = kind == JobKind.Rekey
            ? await PublishedParameters.ResolveAsync(ledger, stores, destination, keyId, request.Parameters, request.ParametersGiven, err, cancellationToken).ConfigureAwait(false)
            : request.Parameters;

        var definition = new JobDefinition(
            source, destination, labels.Text, parameters, keyId, keyVersion, request.MaxAttempts, Operation: request.Operation);
        Guid? existing = await ledger.FindJobAsync(definition, cancellationToken).ConfigureAwait(false);
        using var stopClaiming = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Guid jobId = Guid.Empty;
        Task<PlanSummary?> planning = Task.FromResult<PlanSummary?>(null);
        var planner = new JobPlanner(ledger);
        if (existing is Guid resumed)
        {
            jobId = resumed;
            int reset = await ledger.ResetLeasesAsync(jobId, cancellationToken).ConfigureAwait(false);
            int stale = stores.Get(destination) is FileObjectStore folder ? folder.DeleteTempFiles() : 0;
            await err.WriteLineAsync($"Resuming job {jobId} from {statePath} ({reset} interrupted batches back in play, {stale} unfinished writes removed).").ConfigureAwait(false);
            JobRecord? record = await ledger.GetJobAsync(jobId, cancellationToken).ConfigureAwait(false);
            if (record?.State == JobState.Planning)
            {
                // Planning goes on after the last key the earlier run recorded; what it planned (and workers finished) stays.
                await err.WriteLineAsync("The earlier run was interrupted while planning; planning the rest.").ConfigureAwait(false);
                planning = ReportPlanAsync(
                    planner.ResumeAsync(jobId, stores.Get(source), labels, request.BatchSize, StreamEvery, stopClaiming.Token), err);
            }
        }
        else
        {
            // Planning streams batches to the workers as it lists, so listing and protecting overlap.
            var created = new TaskCompletionSource<Guid>(TaskCreationOptions.RunContinuationsAsynchronously);
            planning = ReportPlanAsync(
                planner.PlanAsync(definition, stores.Get(source), labels, request.BatchSize, StreamEvery, id => created.TrySetResult(id), stopClaiming.Token),
                err);
            await Task.WhenAny(created.Task, planning).ConfigureAwait(false);
            if (!created.Task.IsCompleted)
            {
                await planning.ConfigureAwait(false);
            }

            jobId = await created.Task.ConfigureAwait(false);
        }

        bool interactive = !request.Quiet && !Console.IsErrorRedirected && !Console.IsOutputRedirected && AnsiConsoleIsInteractive();
        var progress = new ProgressDisplay(err, TimeSpan.FromSeconds(5));
        int concurrency = request.Concurrency > 0
            ? request.Concurrency
            : Environment.ProcessorCount * (destination.StartsWith("s3://", StringComparison.Ordinal) || source.StartsWith("s3://", StringComparison.Ordinal) ? 16 : 2);
        long alreadyDone = 0;
        if (existing is not null)
        {
            // Resuming: the size and what earlier runs finished are known now, before any worker of this run starts.
            JobStatus status = await ledger.GetJobStatusAsync(jobId, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"Job {jobId} vanished from the ledger.");
            alreadyDone = status.Totals.Finished;
            progress.SetTotal(status.Totals.Objects, alreadyDone);
        }

        // The same actors as a cluster (job coordinator, class shards, worker slots), in one local actor system with no port.
        var finisher = new ManifestJobFinisher(ledger, stores);
        var completed = new TaskCompletionSource<JobSummary>(TaskCreationOptions.RunContinuationsAsynchronously);
        finisher.JobCompleted += s =>
        {
            if (s.Job.JobId == jobId)
            {
                completed.TrySetResult(s);
            }
        };
        if (patchEngine is not CpuSimdPatchEngine)
        {
            await err.WriteLineAsync($"Patch engine: {patchEngine.Name}.").ConfigureAwait(false);
        }

        var runner = new BatchRunner(
            ledger, new BatchProcessor(keyring, stores, progress, patchEngine, request.Vault, new MemoryBudget(request.MemoryLimitBytes)), new WarningWriter("worker", Console.Error));
        var settings = new WorkerSettings(WorkerSettings.DefaultWorkerId(), slots: 2, concurrency, TimeSpan.FromSeconds(30))
        {
            ClaimObjects = PatchEngines.IsGpu(patchEngine) ? WorkerSettings.GpuClaimObjects : 0, // Larger launches on a GPU.
        };
        await using EngineNode engine = EngineNode.StartLocal(ledger, finisher, new EngineNode.WorkerParts(settings, runner), TimeSpan.FromSeconds(1), jobId);
        Task<bool>? draining = null;
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            if (draining is null)
            {
                stopClaiming.Cancel();
                draining = engine.DrainAsync(Timeout.InfiniteTimeSpan); // Finish the batches in hand; a second Ctrl-C gives them back.
            }
            else
            {
                engine.GiveBack();
            }
        };

        async Task RunJobAsync()
        {
            // A new job's size is known once planning is done.
            try
            {
                if (await planning.ConfigureAwait(false) is PlanSummary plan)
                {
                    progress.SetTotal(plan.Planned, alreadyDone);
                }
            }
            catch (OperationCanceledException) when (stopClaiming.IsCancellationRequested)
            {
                // Ctrl-C while listing: what was planned and finished stays in the ledger; the next run resumes the job.
            }

            var interrupted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            await using CancellationTokenRegistration onStop = stopClaiming.Token.Register(() => interrupted.TrySetResult());
            await Task.WhenAny(completed.Task, interrupted.Task).ConfigureAwait(false);
            if (!completed.Task.IsCompleted && draining is not null)
            {
                await draining.ConfigureAwait(false);
            }
        }

        Console.CancelKeyPress += onCancel;
        try
        {
            Task job = RunJobAsync();
            if (request.Quiet)
            {
                await job.ConfigureAwait(false);
            }
            else
            {
                await progress.RunAsync(job, interactive).ConfigureAwait(false);
            }
        }
        catch
        {
            await stopClaiming.CancelAsync().ConfigureAwait(false);
            await engine.DrainAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
            throw;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }

        if (!completed.Task.IsCompleted)
        {
            await engine.ShutdownAsync().ConfigureAwait(false);
            await err.WriteLineAsync($"Interrupted; {progress.Finished} objects finished in this run. Run the same command again to finish the rest.").ConfigureAwait(false);
            return ExitCodes.Error;
        }

        await engine.ShutdownAsync().ConfigureAwait(false);
        JobSummary summary = await completed.Task.ConfigureAwait(false);
        bool complete = summary.Job.State == JobState.Completed;
        await err.WriteLineAsync(complete
            ? string.Create(CultureInfo.InvariantCulture, $"Finished job {jobId} in {clock.Elapsed.TotalSeconds:F1} s (manifest {ManifestWriter.KeyFor(jobId)}).")
            : $"Job {jobId} did not complete ({summary.Pending} objects pending); run the same command again.").ConfigureAwait(false);

        if (request.ReportPath is not null)
        {
            await ReportFile.WriteAsync(request.ReportPath, json => JobReportWriter.WriteReport(json, summary, clock.Elapsed, progress.Transfer), cancellationToken)
                .ConfigureAwait(false);
        }

        foreach (ObjectRecord failure in summary.Failures)
        {
            // A key may hold control characters (S3 allows them): shown escaped, never acted on by the terminal.
            await err.WriteLineAsync($"failed: {ObjectKeys.Printable(failure.Key)}: {failure.Reason}").ConfigureAwait(false);
        }

        string done = kind switch
        {
            JobKind.Rekey => $"{summary.Rekeyed} re-keyed to v{keyring.Active}, {summary.Untouched} untouched",
            JobKind.Restore => $"{summary.Protected} restored",
            _ => $"{summary.Protected} protected",
        };
        Console.Out.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"poscuda: job {jobId}: {done}, {summary.Failed} failed, {summary.Skipped} skipped, {summary.ClippedSamples} clipped samples, {summary.Bytes / 1e6:F1} MB in {clock.Elapsed.TotalSeconds:F1} s (key {keyId} v{keyVersion}, {definition.Parameters.Spec})"));
        if (kind == JobKind.Rekey && request.Operation is { FromVersion: int from })
        {
            await KeptCodes.WarnForJobAsync(ledger, jobId, keyring, from, keyVersion, parameters, err, cancellationToken).ConfigureAwait(false);
        }

        if (!complete)
        {
            return ExitCodes.Error;
        }

        return summary.Failed > 0 || summary.Pending > 0 ? ExitCodes.SomeFailed : ExitCodes.Success;
    }

    private static async Task<PlanSummary?> ReportPlanAsync(Task<PlanSummary> planning, TextWriter err)
    {
        var clock = Stopwatch.StartNew();
        PlanSummary plan = await planning.ConfigureAwait(false);
        await err.WriteLineAsync(
            string.Create(CultureInfo.InvariantCulture, $"{plan.Describe()} ({clock.Elapsed.TotalSeconds:F1} s)."))
            .ConfigureAwait(false);
        return plan;
    }

    private static bool AnsiConsoleIsInteractive() => Spectre.Console.AnsiConsole.Profile.Capabilities.Interactive;
}
