using Microsoft.Extensions.Diagnostics.HealthChecks;
using Orleans;

namespace ChatGrains.Hosting;

/// <summary>Healthy once a grain call reaches a silo and the store answers; used by silos and API hosts alike.</summary>
public sealed class GrainsHealthCheck(IGrainFactory grains) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            // A read of the store on every call (a user's charges today): this id is no one's, so it reads nothing.
            await grains.GetGrain<IUserGrain>("chatgrains-health-probe").GetUsageAsync();
            return HealthCheckResult.Healthy();
        }
        catch (Exception ex)
        {
            return HealthCheckResult.Unhealthy("Grains or the store are not answering.", ex);
        }
    }
}
