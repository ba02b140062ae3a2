using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ChatGrains.Silo;

/// <summary>
/// A silo host: the embedded single node with no configuration, a cluster member with
/// <c>ConnectionStrings:Redis</c> and <c>ConnectionStrings:Postgres</c>. It serves <c>/health</c>.
/// (A named class rather than top-level statements, so it does not clash with the Api's
/// <c>Program</c>, which references this project.)
/// </summary>
public static class Program
{
    public static void Main(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.AddConversationSilo();
        builder.Services.AddHealthChecks().AddCheck<GrainsAnswer>("grains");

        var app = builder.Build();
        app.MapHealthChecks("/health");
        app.Run();
    }

    /// <summary>Healthy once this silo answers a grain call that reads the store.</summary>
    private sealed class GrainsAnswer(IGrainFactory grains) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            try
            {
                await grains.GetGrain<IConversationDirectoryGrain>(0).ListAsync("");
                return HealthCheckResult.Healthy();
            }
            catch (Exception ex)
            {
                return HealthCheckResult.Unhealthy("Grains or the store are not answering.", ex);
            }
        }
    }
}
