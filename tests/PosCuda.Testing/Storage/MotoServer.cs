using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using PosCuda.Shared.Storage;
using PosCuda.Testing.Processes;
using Xunit;

namespace PosCuda.Testing.Storage;

/// <summary>A real S3 API server for tests: the installed <c>moto_server</c> on a free loopback port.</summary>
/// <remarks>
/// <para>Use it as an xunit class fixture (it starts in <see cref="InitializeAsync"/>) or call <see cref="StartAsync"/>.
/// It waits until the server answers HTTP, at most <see cref="StartTimeout"/>, and kills the whole process tree on
/// dispose.</para>
/// <para>A server that cannot start throws: it never skips silently (xunit 2 has no dynamic skip, and under
/// <c>CI=true</c> a missing server must fail the run anyway).</para>
/// <para>Starting sets dummy credentials (<c>AWS_ACCESS_KEY_ID</c>/<c>AWS_SECRET_ACCESS_KEY</c> = <c>testing</c>) in this
/// process's environment, so stores opened by code under test, which use the standard credential chain, never pick
/// up real ones.</para>
/// </remarks>
public sealed class MotoServer : IAsyncLifetime, IAsyncDisposable
{
    /// <summary>The dummy access key and secret the fixture's clients and the environment use.</summary>
    public const string DummyCredential = "testing";

    private static int s_bucketCounter;

    private ChildProcess? _process;
    private string? _lastOutput;
    private Uri? _endpoint;

    /// <summary>How long the server may take to answer its first request.</summary>
    public static TimeSpan StartTimeout { get; } = TimeSpan.FromSeconds(30);

    /// <summary>Whether the tests run under CI (<c>CI=true</c>).</summary>
    public static bool IsCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>The server's endpoint, <c>http://127.0.0.1:PORT/</c>.</summary>
    public Uri Endpoint => _endpoint ?? throw new InvalidOperationException("moto_server has not been started.");

    /// <summary>Options that point object stores at this server.</summary>
    public ObjectStoreOptions Options => new(S3Endpoint: Endpoint.ToString());

    /// <inheritdoc />
    public Task InitializeAsync() => StartAsync(CancellationToken.None);

    /// <summary>Starts the server and waits until it answers.</summary>
    /// <exception cref="InvalidOperationException">The server could not start in time.</exception>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // The port is free when chosen but may be taken before moto binds it: then moto exits at once, and another port is tried.
        int attempt = 1;
        while (!await TryStartAsync(lastAttempt: attempt == 3, cancellationToken))
        {
            attempt++;
        }
    }

    // False when moto exited because its port was taken (and this is not the last attempt).
    private async Task<bool> TryStartAsync(bool lastAttempt, CancellationToken cancellationToken)
    {
        if (_process is not null)
        {
            return true;
        }

        Environment.SetEnvironmentVariable("AWS_ACCESS_KEY_ID", DummyCredential);
        Environment.SetEnvironmentVariable("AWS_SECRET_ACCESS_KEY", DummyCredential);
        Environment.SetEnvironmentVariable("AWS_SESSION_TOKEN", null);

        int port = Loopback.FreePort();
        var command = new ChildCommand("moto_server")
        {
            Arguments = ["-H", "127.0.0.1", "-p", port.ToString(CultureInfo.InvariantCulture)],
            Environment = new Dictionary<string, string?> { ["PYTHONUNBUFFERED"] = "1" },
        };
        try
        {
            _process = ChildProcess.Start(command);
        }
        catch (Win32Exception ex)
        {
            throw Unavailable("moto_server is not installed or not on PATH", ex);
        }

        var endpoint = new Uri($"http://127.0.0.1:{port}/");
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (_process.HasExited)
            {
                bool portTaken = _process.Output.Any(line => line.Contains("Address already in use", StringComparison.Ordinal));
                await KillAsync();
                if (portTaken && !lastAttempt)
                {
                    return false;
                }

                throw Unavailable("moto_server exited", null);
            }

            try
            {
                using HttpResponseMessage response = await http.GetAsync(endpoint, cancellationToken);
                _endpoint = endpoint;
                return true;
            }
            catch (Exception ex) when (ex is HttpRequestException || (ex is TaskCanceledException && !cancellationToken.IsCancellationRequested))
            {
                if (deadline.Elapsed >= StartTimeout)
                {
                    await KillAsync();
                    throw Unavailable($"moto_server did not answer within {StartTimeout.TotalSeconds:0} s", ex);
                }
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
        }
    }

    /// <summary>Creates an S3 client for this server with the dummy credentials, for setting up and checking tests.</summary>
    public AmazonS3Client CreateClient() =>
        new(new BasicAWSCredentials(DummyCredential, DummyCredential), new AmazonS3Config
        {
            ServiceURL = Endpoint.ToString(),
            AuthenticationRegion = "us-east-1",
            ForcePathStyle = true,
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        });

    /// <summary>Creates a bucket with a name no other test uses and returns its name.</summary>
    public async Task<string> CreateBucketAsync(CancellationToken cancellationToken = default)
    {
        int number = Interlocked.Increment(ref s_bucketCounter);
        string name = $"poscuda-{number}-{Guid.NewGuid():N}";
        using AmazonS3Client client = CreateClient();
        await client.PutBucketAsync(new PutBucketRequest { BucketName = name }, cancellationToken);
        return name;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _endpoint = null;
    }

    /// <inheritdoc />
    Task IAsyncLifetime.DisposeAsync() => DisposeAsync().AsTask();

    private async Task KillAsync()
    {
        ChildProcess? process = Interlocked.Exchange(ref _process, null);
        if (process is not null)
        {
            await process.DisposeAsync();
            _lastOutput = process.Describe();
        }
    }

    private InvalidOperationException Unavailable(string reason, Exception? inner)
    {
        string ci = IsCi ? " (CI=true: a server that cannot start fails the run)" : string.Empty;
        string output = _lastOutput is null ? string.Empty : Environment.NewLine + _lastOutput;
        return new InvalidOperationException($"moto_server could not start: {reason}{ci}.{output}", inner);
    }
}
