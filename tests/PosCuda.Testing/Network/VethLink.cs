using System.Net;

namespace PosCuda.Testing.Network;

/// <summary>One veth pair between this machine and a <see cref="NetworkNamespace"/>: a cable that tests can pull out and plug back in.</summary>
/// <param name="HostInterface">This side's interface name.</param>
/// <param name="HostAddress">This side's address; the namespace reaches this machine's servers bound to it (or relayed from it).</param>
/// <param name="NamespaceAddress">The namespace side's address.</param>
public sealed record VethLink(string HostInterface, IPAddress HostAddress, IPAddress NamespaceAddress)
{
    /// <summary>Cuts the link (this side down): nothing passes either way; open connections stall, new ones time out.</summary>
    public Task CutAsync() => NetworkNamespace.IpAsync("link", "set", HostInterface, "down");

    /// <summary>Restores the link (this side up); the kernel puts its route back and stalled connections resume.</summary>
    public Task RestoreAsync() => NetworkNamespace.IpAsync("link", "set", HostInterface, "up");
}
