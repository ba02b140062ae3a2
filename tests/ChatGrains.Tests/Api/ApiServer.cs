using System.Net;
using ChatGrains.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace ChatGrains.Tests.Api;

/// <summary>
/// The real service — API host with its co-hosted silo and SQLite store, exactly what
/// <c>dotnet run --project Api</c> runs — serving on a real loopback socket. Settings can be
/// overridden per test; the data directory can be reused to test a restart.
/// </summary>
public sealed class ApiServer : WebApplicationFactory<Program>
{
    private readonly Dictionary<string, string?> _settings;

    private readonly Action<IServiceCollection>? _configureServices;

    public ApiServer(string dataDirectory, IDictionary<string, string?>? settings = null, Action<IServiceCollection>? configureServices = null)
    {
        _configureServices = configureServices;
        DataDirectory = dataDirectory;
        _settings = new Dictionary<string, string?>
        {
            ["Storage:Sqlite:DataSource"] = Path.Combine(dataDirectory, "chatgrains.db"),
            ["Auth:KeyFile"] = Path.Combine(dataDirectory, "signing-key"),
            ["Orleans:SiloPort"] = FreePort.Next().ToString(),
            ["Orleans:GatewayPort"] = FreePort.Next().ToString(),
            ["Generator:TokensPerSecond"] = "200",
            ["RateLimits:SignInsPerMinute"] = "100000",
            ["RateLimits:PromptsPerMinute"] = "100000",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>()) _settings[key] = value;
        UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        StartServer();
        var address = Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseAddress = new Uri(address);
    }

    public string DataDirectory { get; }

    public Uri BaseAddress { get; }

    /// <summary>A client over a real socket, with no timeout: event streams stay open.</summary>
    public HttpClient CreateSocketClient() => new(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
    {
        BaseAddress = BaseAddress,
        Timeout = Timeout.InfiniteTimeSpan,
    };

    public async Task<ApiUser> SignInAsync(string name)
    {
        var user = new ApiUser(CreateSocketClient());
        await user.SignInAsync(name);
        return user;
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        foreach (var (key, value) in _settings) builder.UseSetting(key, value);
        if (_configureServices is not null) builder.ConfigureServices(_configureServices);
    }
}
