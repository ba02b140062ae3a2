using ChatGrains.Hosting;

namespace ChatGrains.Silo;

/// <summary>
/// A silo host: the embedded single node with no configuration, a cluster member with
/// <c>ConnectionStrings:Redis</c> and <c>ConnectionStrings:Postgres</c>. It serves the probes <c>/health/live</c> and <c>/health/ready</c> (<see cref="HealthEndpoints"/>).
/// (A named class rather than top-level statements, so it does not clash with the Api's
/// <c>Program</c> in the tests, which reference both.)
/// </summary>
public static class Program
{
    public static void Main(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.AddConversationSilo();
        builder.AddChatGrainsTelemetry(TelemetryHosting.SiloRole);
        builder.Services.AddChatGrainsHealth();

        var app = builder.Build();
        app.MapChatGrainsHealth();
        app.Run();
    }
}
