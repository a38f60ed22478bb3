using System.Globalization;
using System.Text.Json;
using Amazon.S3.Model;
using Npgsql;
using PosCuda.Coordinator.Cli;
using PosCuda.Coordinator.Reports;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Protection;
using PosCuda.Testing;
using PosCuda.Testing.Postgres;
using PosCuda.Testing.Processes;

namespace PosCuda.Pipeline.Tests.Distributed;

/// <summary>A job submitted with <c>poscuda submit</c> to its own PostgreSQL database, over a fresh bucket, with the processes that work on it.</summary>
/// <remarks>Sources live under <c>raw/</c>, outputs under <c>protected/</c>. Disposing kills every process it started.</remarks>
public sealed class DistributedJob : IAsyncDisposable
{
    /// <summary>The lease every worker takes: short, so crashed workers' batches come back quickly.</summary>
    public const string LeaseSeconds = "2";

    private readonly List<ChildProcess> _processes = [];
    private JobStatus? _lastStatus;

    private DistributedJob(
        DistributedFixture fixture, string ledgerLocation, IWorkLedger ledger, Guid jobId, ProtectionParameters parameters, string bucket,
        IReadOnlyDictionary<string, SampleClip> clips)
    {
        Parameters = parameters;
        Fixture = fixture;
        LedgerLocation = ledgerLocation;
        Ledger = ledger;
        JobId = jobId;
        Bucket = bucket;
        Clips = clips;
    }

    /// <summary>The shared fixture.</summary>
    public DistributedFixture Fixture { get; }

    /// <summary>The ledger's connection string.</summary>
    public string LedgerLocation { get; }

    /// <summary>The test's own handle on the ledger.</summary>
    public IWorkLedger Ledger { get; }

    /// <summary>The job.</summary>
    public Guid JobId { get; }

    /// <summary>The job's protection parameters, as the ledger keeps them.</summary>
    public ProtectionParameters Parameters { get; }

    /// <summary>The bucket holding sources and outputs.</summary>
    public string Bucket { get; }

    /// <summary>The source clips by key.</summary>
    public IReadOnlyDictionary<string, SampleClip> Clips { get; }

    /// <summary>The job's source location.</summary>
    public string Source => $"s3://{Bucket}/raw";

    /// <summary>The job's destination location.</summary>
    public string Destination => $"s3://{Bucket}/protected";

    /// <summary>Uploads a corpus, creates a database and submits a job over them with <c>poscuda submit</c> (in-process).</summary>
    public static async Task<DistributedJob> SubmitAsync(
        DistributedFixture fixture, PostgresServer postgres, int copies = 1, int batchSize = 5, int maxAttempts = 5, IReadOnlySet<string>? archived = null,
        params string[] options)
    {
        ArgumentNullException.ThrowIfNull(fixture);
        ArgumentNullException.ThrowIfNull(postgres);
        string ledgerLocation = await postgres.CreateDatabaseAsync();
        (string bucket, IReadOnlyDictionary<string, SampleClip> clips) = await fixture.UploadCorpusAsync(copies, archived);
        int code = await PoscudaCli.RunAsync(
        [
            "submit", $"s3://{bucket}/raw", $"s3://{bucket}/protected", "--ledger", ledgerLocation, "--keyring", fixture.KeyringPath,
            "--labels", DistributedFixture.Labels, "--batch-size", Text(batchSize), "--max-attempts", Text(maxAttempts),
            "--s3-endpoint", fixture.Moto.Endpoint.ToString(), .. options,
        ]);
        Assert.Equal(ExitCodes.Success, code);
        IWorkLedger ledger = WorkLedger.Open(ledgerLocation);
        JobRecord job = Assert.Single(await ledger.ListJobsAsync(CancellationToken.None));
        Assert.Equal(JobState.Running, job.State);
        Assert.Equal(fixture.Keyring.Active, job.Definition.KeyVersion);
        return new DistributedJob(fixture, ledgerLocation, ledger, job.JobId, job.Definition.Parameters, bucket, clips);
    }

    /// <summary>Starts a <c>poscuda-worker</c> node joining this job's cluster, with a 2 s lease.</summary>
    /// <param name="name">Its worker id.</param>
    /// <param name="endpoint">Its S3 endpoint (a proxy, or moto when null).</param>
    /// <param name="concurrency">Objects in flight.</param>
    /// <param name="extra">More options.</param>
    public ChildProcess StartWorker(string name, Uri? endpoint = null, int concurrency = 2, params string[] extra)
        => StartWorkerAt(name, new WorkerPlacement(ClusterHost, LedgerLocation, endpoint ?? Fixture.Moto.Endpoint), concurrency, extra);

    /// <summary>Starts a <c>poscuda-worker</c> node elsewhere (another network namespace): its own launcher, address, ledger and S3 routes.</summary>
    /// <param name="name">Its worker id.</param>
    /// <param name="placement">Where it runs and how it reaches the cluster, the ledger and the store.</param>
    /// <param name="concurrency">Objects in flight.</param>
    /// <param name="extra">More options.</param>
    public ChildProcess StartWorkerAt(string name, WorkerPlacement placement, int concurrency = 2, params string[] extra)
    {
        ArgumentNullException.ThrowIfNull(placement);
        ChildProcess worker = PoscudaTool.Start(
            name,
            PoscudaTool.Worker,
            [
                "--ledger", placement.LedgerLocation, "--keyring", WorkerKeyringPath ?? Fixture.KeyringPath, "--worker-id", name,
                "--lease-seconds", WorkerLeaseSeconds, "--concurrency", Text(concurrency), "--slots", "1",
                "--s3-endpoint", placement.S3Endpoint.ToString(), .. ClusterOptions(0, placement.Hostname), .. extra,
            ],
            launcher: placement.Launcher);
        _processes.Add(worker);
        return worker;
    }

    /// <summary>The keyring workers started from now on get (default: the fixture's).</summary>
    public string? WorkerKeyringPath { get; set; }

    /// <summary>The lease workers started from now on take (default <see cref="LeaseSeconds"/>).</summary>
    public string WorkerLeaseSeconds { get; set; } = LeaseSeconds;

    /// <summary>The address the coordinator nodes and the workers started without a placement bind and advertise (default 127.0.0.1).</summary>
    public string ClusterHost { get; set; } = "127.0.0.1";

    /// <summary>Starts a <c>poscuda coordinator</c> node: the first one started forms the cluster, later ones join it.</summary>
    public ChildProcess StartCoordinator(string name)
    {
        int port = Loopback.FreePort();
        lock (_coordinatorPorts)
        {
            _coordinatorPorts.Add(port);
        }

        ChildProcess coordinator = PoscudaTool.Start(
            name,
            PoscudaTool.Poscuda,
            ["coordinator", "--ledger", LedgerLocation, "--s3-endpoint", Fixture.Moto.Endpoint.ToString(), .. ClusterOptions(port, ClusterHost)]);
        _processes.Add(coordinator);
        return coordinator;
    }

    /// <summary>The cluster options of a node at <paramref name="hostname"/>:<paramref name="port"/>: the coordinator nodes started so far
    /// (at <see cref="ClusterHost"/>) are the seeds (the first started first, so it forms the cluster); short failure detection.</summary>
    public string[] ClusterOptions(int port, string hostname)
    {
        lock (_coordinatorPorts)
        {
            return
            [
                "--hostname", hostname, "--port", Text(port), "--stable-after", "2",
                .. _coordinatorPorts.SelectMany(p => new[] { "--seed", $"{ClusterHost}:{Text(p)}" }),
            ];
        }
    }

    private readonly List<int> _coordinatorPorts = [];

    /// <summary>The job's status now.</summary>
    public async Task<JobStatus> StatusAsync()
    {
        JobStatus status = await Ledger.GetJobStatusAsync(JobId, CancellationToken.None) ?? throw new InvalidOperationException("the job vanished");
        _lastStatus = status;
        return status;
    }

    /// <summary>Whether a slot of worker <paramref name="workerId"/> holds a batch lease of the job (or of <paramref name="jobId"/>) in the ledger now.</summary>
    /// <remarks>For <see cref="ChildProcess.KillWhenAsync"/>: read while the worker is frozen, a lease held is a batch the class
    /// shard tracks for it (the shard tracks a grant before the worker hears of it, and the worker completes a batch in the ledger
    /// before it reports it returned), so killing it then leaves exactly that batch to be reassigned.</remarks>
    private async Task<bool> HoldsLeaseAsync(string workerId, Guid? jobId = null)
    {
        await using var connection = new NpgsqlConnection(LedgerLocation);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT count(*) FROM batches WHERE job_id = @job AND state = 'leased' AND lease_owner LIKE @owner", connection);
        command.Parameters.AddWithValue("job", jobId ?? JobId);
        command.Parameters.AddWithValue("owner", workerId + "/%");
        return (long)(await command.ExecuteScalarAsync() ?? 0L) > 0;
    }

    /// <summary>Kills <paramref name="worker"/> (SIGKILL) at a moment its worker <paramref name="workerId"/> holds a batch lease of
    /// the job (or of <paramref name="jobId"/>): polled while it runs until it does, then checked again while it is frozen.</summary>
    /// <remarks>A worker is between two batches for a moment after each; killed then, it leaves nothing to reassign. The
    /// frozen check makes that impossible; the poll first keeps the stepping short, so the cluster's failure detector never
    /// sees a stepped worker as unreachable.</remarks>
    public async Task KillHoldingLeaseAsync(ChildProcess worker, string workerId, Guid? jobId = null)
    {
        ArgumentNullException.ThrowIfNull(worker);
        await Poll.UntilAsync(() => HoldsLeaseAsync(workerId, jobId), held => held, TimeSpan.FromSeconds(60), $"{workerId} to hold a batch", Diagnostics);
        await worker.KillWhenAsync(() => HoldsLeaseAsync(workerId, jobId), TimeSpan.FromSeconds(60), $"{workerId} holding a batch");
    }

    /// <summary>Polls the job's status until <paramref name="done"/> holds.</summary>
    public Task<JobStatus> WaitForAsync(Func<JobStatus, bool> done, TimeSpan timeout, string what)
        => Poll.UntilAsync(StatusAsync, done, timeout, what, Diagnostics);

    /// <summary>Polls until the job is completed and its manifest is in the destination.</summary>
    /// <remarks>The coordinator writes the manifest before it marks the job completed; the second poll guards that order.</remarks>
    public async Task<JobStatus> WaitCompletedAsync(TimeSpan timeout)
    {
        DateTime deadline = DateTime.UtcNow + timeout;
        JobStatus status = await WaitForAsync(s => s.Job.State == JobState.Completed, timeout, "the job to complete");
        TimeSpan left = deadline - DateTime.UtcNow;
        await Poll.UntilAsync(ManifestKeysAsync, keys => keys.Count > 0, left > TimeSpan.FromSeconds(10) ? left : TimeSpan.FromSeconds(10), "the manifest", Diagnostics);
        return status;
    }

    /// <summary>Every object of the job with its result.</summary>
    public async Task<IReadOnlyList<ObjectRecord>> ReadObjectsAsync()
    {
        var records = new List<ObjectRecord>();
        await foreach (ObjectRecord record in Ledger.ReadObjectsAsync(JobId, CancellationToken.None))
        {
            records.Add(record);
        }

        return records;
    }

    /// <summary>The keys of the destination's manifests.</summary>
    public Task<IReadOnlyList<string>> ManifestKeysAsync() => Fixture.ListKeysAsync(Bucket, "protected/.poscuda/manifests/");

    /// <summary>The key of this job's manifest in the bucket.</summary>
    public string ManifestKey => "protected/" + ManifestWriter.KeyFor(JobId);

    /// <summary>Reads this job's manifest from the destination.</summary>
    public async Task<JsonDocument> ReadManifestAsync() => JsonDocument.Parse(await Fixture.GetBytesAsync(Bucket, ManifestKey));

    /// <summary>Asserts that every clip's output under <paramref name="prefix"/> holds exactly what the job's spec makes of it and nothing else is there.</summary>
    public async Task AssertOutputsAsync(string prefix = "protected/")
    {
        IReadOnlyList<string> keys = await Fixture.ListKeysAsync(Bucket, prefix);
        Assert.Equal(Clips.Keys.Order(StringComparer.Ordinal), keys.Where(k => !k.StartsWith(".poscuda/", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        await Parallel.ForEachAsync(Clips.Values, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (clip, _) =>
        {
            byte[] output = await Fixture.GetBytesAsync(Bucket, prefix + clip.Key);
            Assert.True(Fixture.Expected(clip, Parameters).AsSpan().SequenceEqual(output), $"{prefix}{clip.Key} differs from what {Parameters.Spec} makes of it");
        });
    }

    /// <summary>Asserts the user metadata of every output (read with GetObjectMetadata).</summary>
    public async Task AssertMetadataAsync()
    {
        await Parallel.ForEachAsync(Clips.Values, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (clip, ct) =>
        {
            GetObjectMetadataResponse head = await Fixture.Client.GetObjectMetadataAsync(Bucket, "protected/" + clip.Key, ct);
            Assert.Equal(Parameters.Spec, head.Metadata["poscuda-spec"]);
            Assert.Equal(Fixture.Keyring.KeyId, head.Metadata["poscuda-key-id"]);
            Assert.Equal(Text(Fixture.Keyring.Active), head.Metadata["poscuda-key-version"]);
            Assert.Equal(JobId.ToString("D"), head.Metadata["poscuda-job"]);
            Assert.Equal(clip.ETag, head.Metadata["poscuda-source-etag"]);
        });
    }

    /// <summary>Every process's last output and the last status seen, for failure messages.</summary>
    public string Diagnostics()
    {
        string status = _lastStatus is null ? "no status yet" : StatusCommand.Format(_lastStatus);
        return status + Environment.NewLine + string.Join(Environment.NewLine, _processes.Select(p => p.Describe()));
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (ChildProcess process in _processes)
        {
            await process.DisposeAsync();
        }

        await Ledger.DisposeAsync();
    }

    /// <summary>Formats a number for the command line.</summary>
    public static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
}
