using System.Net;
using System.Net.Http.Headers;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using ChatGrains.Tests.Api;
using ChatGrains.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace ChatGrains.Tests.Telemetry;

/// <summary>The service with an operator key and an external identity provider whose tokens may carry the operator role.</summary>
public sealed class OperationsFixture : ApiServerFixture
{
    public const string ExternalIssuer = "corporate-idp";
    public const string ExternalAudience = "chatgrains-api";

    // Initialized before the base constructor starts the service with Settings.
    public SymmetricSecurityKey ExternalKey { get; } = new(RandomNumberGenerator.GetBytes(32));
    public string OperatorKey { get; } = Convert.ToBase64String(RandomNumberGenerator.GetBytes(48));

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Operators:Key"] = OperatorKey,
        ["Authentication:Schemes:Bearer:ValidIssuer"] = ExternalIssuer,
        ["Authentication:Schemes:Bearer:ValidAudience"] = ExternalAudience,
        ["Authentication:Schemes:Bearer:SigningKeys:0:Issuer"] = ExternalIssuer,
        ["Authentication:Schemes:Bearer:SigningKeys:0:Value"] = Convert.ToBase64String(ExternalKey.Key),
    };

    public string ExternalToken(string role) => new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
    {
        Issuer = ExternalIssuer,
        Audience = ExternalAudience,
        Expires = DateTime.UtcNow.AddHours(1),
        Subject = new ClaimsIdentity([new Claim("sub", "someone"), new Claim("role", role)]),
        SigningCredentials = new SigningCredentials(ExternalKey, SecurityAlgorithms.HmacSha256),
    });
}

/// <summary>The Orleans dashboard is for operators only; the probes tell an orchestrator when to send traffic.</summary>
[Trait("Category", TestCategory.Api)]
public sealed class OperationsTests(OperationsFixture fixture) : IClassFixture<OperationsFixture>
{
    private readonly ApiServer _server = fixture.Server;

    [Fact]
    public async Task The_dashboard_is_for_operators_only()
    {
        using var ada = await _server.SignInAsync("Ada");

        await Problems.AssertAsync(await GetAsync("/dashboard/", null), 401, "anonymous");
        await Problems.AssertAsync(await GetAsync("/dashboard/ClusterStats", null), 401, "anonymous, its data");
        await Problems.AssertAsync(await GetAsync("/dashboard/", "not-the-operator-key-but-long-enough-0123456789"), 401, "a wrong key");
        await Problems.AssertAsync(await GetAsync("/dashboard/", ada.Token), 403, "a guest");
        await Problems.AssertAsync(await GetAsync("/dashboard/ClusterStats", ada.Token), 403, "a guest, its data");
        await Problems.AssertAsync(await GetAsync("/dashboard/", fixture.ExternalToken("reader")), 403, "an external user without the role");

        foreach (var (who, credential) in new[] { ("the operator key", fixture.OperatorKey), ("an external operator", fixture.ExternalToken("chatgrains-operator")) })
        {
            var page = await GetAsync("/dashboard/", credential);
            Assert.True(page.StatusCode == HttpStatusCode.OK, $"{who}: {(int)page.StatusCode}");
            Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
            Assert.Contains("<html", await page.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
            // Its data comes from the silo's dashboard grains: the page has something to show.
            var stats = await Eventually.Until(() => GetAsync("/dashboard/DashboardCounters", credential), r => r.StatusCode == HttpStatusCode.OK,
                TimeSpan.FromSeconds(10), $"{who} reads the counters");
            Assert.Contains("totalActiveHostCount", await stats.Content.ReadAsStringAsync());
        }
        var redirect = await GetAsync("/dashboard", fixture.OperatorKey);
        Assert.Equal(HttpStatusCode.MovedPermanently, redirect.StatusCode);
        Assert.EndsWith("/dashboard/", redirect.Headers.Location?.ToString());
    }

    [Fact]
    public async Task Live_and_ready_answer_anonymous_probes()
    {
        Assert.Equal(HttpStatusCode.OK, (await GetAsync("/health/live", null)).StatusCode);
        var ready = await GetAsync("/health/ready", null);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal("Healthy", await ready.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_stopping_host_is_live_but_not_ready()
    {
        using var data = new TempDirectory();
        var stopping = new HeldStop();
        using var server = new ApiServer(data.Path, configureServices: s => s.AddHostedService(_ => stopping));
        using var http = server.CreateSocketClient();
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health/ready")).StatusCode);

        var stop = Task.Run(() => server.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication());
        await stopping.Reached.Task.WaitAsync(TimeSpan.FromSeconds(10));

        var ready = await http.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Equal("Unhealthy", await ready.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await http.GetAsync("/health")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health/live")).StatusCode);
        stopping.Release.SetResult();
        await stop;
    }

    private async Task<HttpResponseMessage> GetAsync(string path, string? bearer)
    {
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = _server.BaseAddress };
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (bearer is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        return await http.SendAsync(request);
    }

    /// <summary>A service that holds the host's stopping until released: meanwhile Kestrel, stopped after it, still answers.</summary>
    private sealed class HeldStop : IHostedService
    {
        public TaskCompletionSource Reached { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public async Task StopAsync(CancellationToken cancellationToken)
        {
            Reached.TrySetResult();
            await Release.Task;
        }
    }
}
