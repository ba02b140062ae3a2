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
        builder.Services.AddHealthChecks().AddCheck<GrainsHealthCheck>("grains");

        var app = builder.Build();
        app.MapHealthChecks("/health");
        app.Run();
    }
}
