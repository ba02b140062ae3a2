using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace ChatGrains.Hosting;

/// <summary>
/// OpenTelemetry for every ChatGrains host, the silos' and the API hosts' alike: traces of
/// ASP.NET Core requests, grain calls (Orleans' application activity source; the silo and
/// client builders add the propagation), outgoing HTTP (the model's requests) and our own
/// spans; the metrics of our meters, Orleans', ASP.NET Core's, HttpClient's and the runtime's.
/// Exported with OTLP when the standard <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set (with the
/// other <c>OTEL_EXPORTER_OTLP_*</c> settings). Without it nothing is collected either (no
/// spans are made, no measurement is aggregated), unless <c>Telemetry:Enabled</c> is true: for
/// an exporter added in code (the tests' in-memory one). Each process is the service
/// <c>chatgrains-{role}</c>, instance <c>Telemetry:InstanceId</c> (default: the machine name).
/// </summary>
public static class TelemetryHosting
{
    public const string ApiRole = "api";
    public const string SiloRole = "silo";

    /// <summary>The host's own spans and meter (feeds, watchers, SSE writes), beside <see cref="TelemetryNames.Conversations"/>.</summary>
    public const string ApiName = "ChatGrains.Api";

    /// <summary>
    /// Grain calls between our own grains (and from clients to them). Orleans' runtime source
    /// is left out on purpose: it traces every call of the runtime's own grains, among them the
    /// stream pulling agents' polls of their queues every 10 ms, which would bury the traces
    /// that matter.
    /// </summary>
    public const string OrleansApplicationSource = "Microsoft.Orleans.Application";

    /// <summary>The meter of Orleans' own instruments (messaging, activations, streams, storage).</summary>
    public const string OrleansMeter = "Microsoft.Orleans";

    /// <summary>The runtime's built-in meter (GC, thread pool, JIT, exceptions), since .NET 9.</summary>
    public const string RuntimeMeter = "System.Runtime";

    /// <param name="role">
    /// What this process is: <see cref="ApiRole"/>, <see cref="SiloRole"/>, or both for the
    /// embedded single node (the service is then <c>chatgrains</c>).
    /// </param>
    public static IHostApplicationBuilder AddChatGrainsTelemetry(this IHostApplicationBuilder builder, string? role)
    {
        var config = builder.Configuration;
        var otlp = !string.IsNullOrWhiteSpace(config["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        if (!otlp && !config.GetValue<bool>("Telemetry:Enabled")) return builder;
        var service = role is null ? "chatgrains" : "chatgrains-" + role;
        var instance = config["Telemetry:InstanceId"] is { Length: > 0 } id ? id : Environment.MachineName;
        var otel = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource =>
            {
                // OTEL_SERVICE_NAME, when set, names the service instead (the SDK's own rule).
                if (string.IsNullOrWhiteSpace(config["OTEL_SERVICE_NAME"])) resource.AddService(service, serviceInstanceId: instance);
                else resource.AddAttributes([new("service.instance.id", instance)]);
            })
            .WithTracing(tracing => tracing
                .AddSource(ApiName, TelemetryNames.Conversations, OrleansApplicationSource)
                // Probes and the dashboard's polling every second are not worth a trace each.
                .AddAspNetCoreInstrumentation(o => o.Filter = http => !IsOperationsPath(http.Request.Path))
                .AddHttpClientInstrumentation())
            .WithMetrics(metrics => metrics
                .AddMeter(ApiName, TelemetryNames.Conversations, OrleansMeter, RuntimeMeter)
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation());
        if (otlp)
        {
            // Logs too, so a trace's log lines sit beside it in the collector.
            otel.WithLogging();
            otel.UseOtlpExporter();
        }
        return builder;
    }

    private static bool IsOperationsPath(PathString path) =>
        path.StartsWithSegments("/health") || path.StartsWithSegments("/dashboard");
}
