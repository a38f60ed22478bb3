using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;

namespace PosCuda.Testing.Network;

/// <summary>A Linux network namespace of its own (<c>ip netns</c>), joined to this machine by veth pairs: a separate host for partition tests.</summary>
/// <remarks>
/// <para>Needs root (CAP_NET_ADMIN) and iproute2. Names are unique per instance (<c>poscuda-XXXXXXXX</c>, veths <c>pcXXXXXXhN</c> on
/// this side), addresses are /30s in one free <c>10.213.N.0/24</c>, so concurrent test runs do not meet. All traffic stays on this
/// machine. Disposing kills what still runs inside, deletes the veths and the namespace, also after a failed test.</para>
/// <para>A link's address on this side stays reachable from this machine while the link is cut (the kernel keeps its local route):
/// servers bound to it keep serving this machine's processes; only the namespace loses them.</para>
/// </remarks>
public sealed class NetworkNamespace : IAsyncDisposable
{
    private static readonly TimeSpan s_commandTimeout = TimeSpan.FromSeconds(30);
    private readonly string _tag;
    private readonly int _subnet;
    private readonly List<VethLink> _links = [];

    private NetworkNamespace(string tag, int subnet)
    {
        _tag = tag;
        _subnet = subnet;
        Name = "poscuda-" + tag;
    }

    /// <summary>The namespace's name (for <c>ip netns exec</c>).</summary>
    public string Name { get; }

    /// <summary>The command prefix that runs a program inside the namespace.</summary>
    public IReadOnlyList<string> Exec => ["ip", "netns", "exec", Name];

    /// <summary>Creates a namespace with its loopback up.</summary>
    /// <exception cref="NetworkNamespaceUnavailableException">Namespaces cannot be created here (not root, no iproute2, no kernel support).</exception>
    public static async Task<NetworkNamespace> CreateAsync()
    {
        string tag = Convert.ToHexString(RandomNumberGenerator.GetBytes(4)).ToLowerInvariant();
        int subnet = await FreeSubnetAsync();
        try
        {
            await IpAsync("netns", "add", "poscuda-" + tag);
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            throw new NetworkNamespaceUnavailableException($"network namespaces cannot be created here ({e.Message})", e);
        }

        var ns = new NetworkNamespace(tag, subnet);
        try
        {
            await IpAsync("-n", ns.Name, "link", "set", "lo", "up");
        }
        catch
        {
            await ns.DisposeAsync();
            throw;
        }

        return ns;
    }

    /// <summary>Adds a veth pair between this machine and the namespace, each end with its address of a fresh /30, both up.</summary>
    public async Task<VethLink> AddLinkAsync()
    {
        int n = _links.Count;
        if (n >= 64)
        {
            throw new InvalidOperationException("A namespace takes at most 64 links.");
        }

        string host = $"pc{_tag[..6]}h{n}";
        string inside = $"pc{_tag[..6]}n{n}";
        var hostAddress = IPAddress.Parse(string.Create(CultureInfo.InvariantCulture, $"10.213.{_subnet}.{(4 * n) + 1}"));
        var insideAddress = IPAddress.Parse(string.Create(CultureInfo.InvariantCulture, $"10.213.{_subnet}.{(4 * n) + 2}"));
        await IpAsync("link", "add", host, "type", "veth", "peer", "name", inside);
        var link = new VethLink(host, hostAddress, insideAddress);
        _links.Add(link);
        await IpAsync("link", "set", inside, "netns", Name);
        await IpAsync("addr", "add", hostAddress + "/30", "dev", host);
        await IpAsync("-n", Name, "addr", "add", insideAddress + "/30", "dev", inside);
        await IpAsync("-n", Name, "link", "set", inside, "up");
        await IpAsync("link", "set", host, "up");
        return link;
    }

    /// <summary>Kills the processes still inside, deletes the links and the namespace. Never throws.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            (int _, string pids) = await RunAsync("ip", ["netns", "pids", Name]);
            foreach (string pid in pids.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                try
                {
                    using Process process = Process.GetProcessById(int.Parse(pid, CultureInfo.InvariantCulture));
                    process.Kill(entireProcessTree: true);
                    await process.WaitForExitAsync().WaitAsync(s_commandTimeout);
                }
                catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException or TimeoutException)
                {
                    // Gone already.
                }
            }
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception or TimeoutException)
        {
        }

        // Deleting this side of a veth deletes both ends; deleting the namespace takes whatever is left inside.
        foreach (VethLink link in _links)
        {
            await RunQuietlyAsync("link", "del", link.HostInterface);
        }

        await RunQuietlyAsync("netns", "del", Name);
    }

    /// <summary>Runs <c>ip ARGS</c> and throws when it fails.</summary>
    internal static async Task IpAsync(params string[] args)
    {
        (int code, string output) = await RunAsync("ip", args);
        if (code != 0)
        {
            throw new InvalidOperationException($"ip {string.Join(' ', args)} exited with {code}: {output.Trim()}");
        }
    }

    private static async Task RunQuietlyAsync(params string[] args)
    {
        try
        {
            await RunAsync("ip", args);
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception or TimeoutException)
        {
            // Best effort: the rest of the clean-up still runs.
        }
    }

    // A 10.213.N.0/24 no interface of this machine uses yet.
    private static async Task<int> FreeSubnetAsync()
    {
        string used;
        try
        {
            (_, used) = await RunAsync("ip", ["-o", "-4", "addr", "show"]);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new NetworkNamespaceUnavailableException($"iproute2 is not installed ({e.Message})", e);
        }

        for (int attempt = 0; attempt < 64; attempt++)
        {
            int subnet = RandomNumberGenerator.GetInt32(256);
            if (!used.Contains(string.Create(CultureInfo.InvariantCulture, $" 10.213.{subnet}."), StringComparison.Ordinal))
            {
                return subnet;
            }
        }

        throw new NetworkNamespaceUnavailableException("no free 10.213.N.0/24 for the namespace's links", null);
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string fileName, IReadOnlyList<string> args)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using Process process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {fileName}");
        using var timeout = new CancellationTokenSource(s_commandTimeout);
        Task<string> stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
        Task<string> stderr = process.StandardError.ReadToEndAsync(timeout.Token);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} {string.Join(' ', args)} did not finish within {s_commandTimeout.TotalSeconds:0} s");
        }

        return (process.ExitCode, await stdout + await stderr);
    }
}
