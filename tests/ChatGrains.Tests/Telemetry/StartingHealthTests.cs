using System.Net;
using ChatGrains.Tests.Api;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace ChatGrains.Tests.Telemetry;

[Trait("Category", TestCategory.Api)]
public sealed class StartingHealthTests
{
    [Fact]
    public async Task A_host_that_is_still_starting_is_live_but_not_ready()
    {
        using var data = new TempDirectory();
        var starting = new HeldStart();
        // The constructor returns once the host has started, which HeldStart holds back.
        var start = Task.Run(() => new ApiServer(data.Path, configureServices: s => s.AddSingleton<IHostedService>(p => starting.With(p))));
        var address = await starting.Reached.Task.WaitAsync(TimeSpan.FromSeconds(60));
        using var http = new HttpClient { BaseAddress = address };

        var ready = await http.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Equal("Unhealthy", await ready.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health/live")).StatusCode);

        starting.Release.SetResult();
        using var server = await start.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health/ready")).StatusCode);
    }

    /// <summary>
    /// Holds the host between "every service started" (Kestrel listens) and "the application
    /// started" until released: the moment a probe must not yet send traffic.
    /// </summary>
    private sealed class HeldStart : IHostedLifecycleService
    {
        private IServiceProvider _services = null!;

        public TaskCompletionSource<Uri> Reached { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public HeldStart With(IServiceProvider services)
        {
            _services = services;
            return this;
        }

        public async Task StartedAsync(CancellationToken cancellationToken)
        {
            var addresses = _services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
            Reached.TrySetResult(new Uri(addresses.First()));
            await Release.Task;
        }

        public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
