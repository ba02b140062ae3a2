using ChatGrains.Conversation;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ChatGrains.Silo;

/// <summary>
/// A silo's part of <c>/health/ready</c>: unhealthy while it drains, that is from the moment it is
/// asked to stop it starts no new replies (they wait for the conversation's next activation).
/// </summary>
internal sealed class DrainingCheck(ReplyDrain drain) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(drain.IsDraining ? HealthCheckResult.Unhealthy("Draining: stopping.") : HealthCheckResult.Healthy());
}
