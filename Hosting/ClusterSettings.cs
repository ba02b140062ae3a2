using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;

namespace ChatGrains.Hosting;

/// <summary>
/// Which mode a host runs in, read once from configuration. No Redis connection string: the
/// embedded single node. A Redis connection string: cluster mode, where silos find each other
/// (and API hosts find gateways) through Redis, and silos keep conversations in PostgreSQL.
/// </summary>
public sealed record ClusterSettings(string? Redis, string? Postgres, string ClusterId, string ServiceId)
{
    public bool IsCluster => Redis is not null;

    public static ClusterSettings From(IConfiguration config) => new(
        Blank(config.GetConnectionString("Redis")),
        Blank(config.GetConnectionString("Postgres")),
        config["Cluster:ClusterId"] ?? "chatgrains",
        config["Cluster:ServiceId"] ?? "chatgrains");

    /// <summary>Fails at start, with a message that names the setting, when a silo's cluster settings are incomplete.</summary>
    public void ValidateForSilo()
    {
        if (IsCluster && Postgres is null)
            throw new InvalidOperationException(
                "Cluster mode (ConnectionStrings:Redis is set) needs ConnectionStrings:Postgres for conversations. " +
                "Set both, or neither for the embedded single node.");
    }

    /// <summary>
    /// The address a silo tells the others to reach it at: configured, else this machine's
    /// first non-loopback IPv4 address (a container's own IP) — never a service name, which
    /// several silos would share.
    /// </summary>
    public static IPAddress AdvertisedAddress(IConfiguration config)
    {
        if (config["Orleans:AdvertisedIP"] is { Length: > 0 } configured)
        {
            return IPAddress.TryParse(configured, out var ip)
                ? ip
                : throw new InvalidOperationException($"Orleans:AdvertisedIP '{configured}' is not an IP address.");
        }
        return NetworkInterface.GetAllNetworkInterfaces()
            .Where(n => n.OperationalStatus == OperationalStatus.Up && n.NetworkInterfaceType != NetworkInterfaceType.Loopback)
            .SelectMany(n => n.GetIPProperties().UnicastAddresses)
            .Select(a => a.Address)
            .FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork)
            ?? throw new InvalidOperationException("No routable IPv4 address found; set Orleans:AdvertisedIP.");
    }

    private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}
