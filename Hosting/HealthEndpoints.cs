using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;

namespace ChatGrains.Hosting;

/// <summary>
/// The probes of every host, anonymous, for orchestrators:
/// <c>/health/live</c> answers 200 as long as the process serves requests (restart it when it
/// does not); <c>/health/ready</c> answers 200 only when it should be sent traffic: started,
/// not stopping or draining, and a grain call reaches a silo whose store answers (else 503);
/// <c>/health</c> is the same as ready, for the probes written before the split. A silo adds its
/// own readiness check (not while draining: Silo.Hosting's <c>DrainingCheck</c>) under <see cref="Ready"/>.
/// </summary>
public static class HealthEndpoints
{
    /// <summary>The tag of the checks <c>/health/ready</c> runs.</summary>
    public const string Ready = "ready";

    public static IServiceCollection AddChatGrainsHealth(this IServiceCollection services)
    {
        services.AddHealthChecks()
            .AddCheck<ServingCheck>("serving", tags: [Ready])
            .AddCheck<GrainsHealthCheck>("cluster", tags: [Ready]);
        return services;
    }

    public static IEndpointRouteBuilder MapChatGrainsHealth(this IEndpointRouteBuilder app)
    {
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false });
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = c => c.Tags.Contains(Ready) });
        app.MapHealthChecks("/health", new HealthCheckOptions { Predicate = c => c.Tags.Contains(Ready) });
        return app;
    }

    /// <summary>
    /// Unhealthy until the host has started (Kestrel may answer before the silo or the cluster
    /// client is up), and again from the moment it is asked to stop: a silo then drains its
    /// replies for up to <c>Orleans:DrainTimeout</c>, an API host ends its streams, and new
    /// traffic should go elsewhere meanwhile.
    /// </summary>
    private sealed class ServingCheck(IHostApplicationLifetime lifetime) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
            Task.FromResult(
                !lifetime.ApplicationStarted.IsCancellationRequested ? HealthCheckResult.Unhealthy("Starting.")
                : lifetime.ApplicationStopping.IsCancellationRequested ? HealthCheckResult.Unhealthy("Draining: stopping.")
                : HealthCheckResult.Healthy());
    }
}
