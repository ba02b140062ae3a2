using ChatGrains.Api.Apis;
using ChatGrains.Api.Auth;
using ChatGrains.Api.Feeds;
using ChatGrains.Silo;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using Orleans.Configuration;

namespace ChatGrains.Api;

public static class ApiHosting
{
    /// <summary>
    /// The API host: by default it co-hosts the silo (one process runs everything); with a
    /// cluster configured it is only an Orleans client that finds the silos' gateways in Redis.
    /// </summary>
    public static WebApplicationBuilder AddChatGrainsApi(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        var config = builder.Configuration;

        var cluster = ClusterSettings.From(config);
        if (cluster.IsCluster)
        {
            // A client may land on any host: every host must sign and check with the same key.
            if (string.IsNullOrWhiteSpace(config["Auth:SigningKey"]))
                throw new InvalidOperationException("Cluster mode needs Auth:SigningKey, shared by every API host, so that each accepts the others' tokens.");
            builder.UseOrleansClient(client => client
                .Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (cluster.ClusterId, cluster.ServiceId))
                .UseRedisClustering(cluster.Redis!)
                // Learn of silos that came or went within seconds, not the default minute.
                .Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = TimeSpan.FromSeconds(5))
                // No grain call here legitimately takes long; a call lost with a dying silo should
                // fail (and be retried by the feed) in 10 s, not the default 30.
                .Configure<ClientMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(10))
                .AddConversationStreams()
                // Stream subscriptions can be lost with a gateway without any error (dotnet/orleans
                // #7992): when one goes, every feed catches up from its grain and resubscribes.
                .AddGatewayCountChangedHandler(sp => (_, e) =>
                {
                    if (e.NumberOfConnectedGateways < e.PreviousNumberOfConnectedGateways || e.ConnectionRecovered)
                        sp.GetRequiredService<FeedHub>().ResyncAll();
                }));
        }
        else
        {
            builder.AddConversationSilo();
        }

        services.AddOptions<FeedOptions>().Bind(config.GetSection(FeedOptions.SectionName))
            .Validate(o => o.WatcherBuffer >= 16 && o.RecentEvents > 0 && o.HeartbeatInterval >= TimeSpan.FromMilliseconds(100),
                "Feeds: WatcherBuffer >= 16, RecentEvents > 0, HeartbeatInterval >= 100ms.")
            .ValidateOnStart();
        services.AddOptions<MessageLimits>().Bind(config.GetSection(MessageLimits.SectionName))
            .Validate(o => o.MaxContentBytes > 0, "Limits:MaxContentBytes must be positive.").ValidateOnStart();
        services.AddOptions<AuthOptions>().Bind(config.GetSection(AuthOptions.SectionName));
        services.AddSingleton<FeedMetrics>();
        services.AddSingleton<FeedHub>();
        services.AddSingleton<HeartbeatScheduler>();
        services.AddHostedService(sp => sp.GetRequiredService<HeartbeatScheduler>());

        services.AddSingleton<SigningKey>();
        services.AddSingleton<GuestTokens>();
        services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer();
        services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme)
            .Configure<SigningKey, IOptions<AuthOptions>>((jwt, key, auth) =>
            {
                jwt.MapInboundClaims = false;
                // A watch request holds its authentication result for as long as it streams, so
                // what that result keeps is paid per watcher: not the raw token (nothing reads
                // it back), and not the parsed token (see OnTokenValidated).
                jwt.SaveToken = false;
                // An external issuer can be configured with the standard
                // Authentication:Schemes:Bearer settings; guest tokens are always accepted.
                var p = jwt.TokenValidationParameters;
                p.ValidIssuers = [.. p.ValidIssuers ?? [], auth.Value.Issuer, .. jwt.TokenValidationParameters.ValidIssuer is { } i ? new[] { i } : []];
                p.ValidAudiences = [.. p.ValidAudiences ?? [], auth.Value.Audience];
                p.IssuerSigningKeys = [.. p.IssuerSigningKeys ?? [], key.Key];
                p.NameClaimType = "name";
                jwt.Events = new JwtBearerEvents
                {
                    // A native EventSource cannot set headers: it may pass the token in the query.
                    OnMessageReceived = c =>
                    {
                        if (string.IsNullOrEmpty(c.Token) && c.Request.Query.TryGetValue("access_token", out var token)) c.Token = token;
                        return Task.CompletedTask;
                    },
                    // The validated identity keeps the whole parsed token (its JSON, claim caches,
                    // locks) to build claims lazily: about 4 KB for every open stream. The user's
                    // id and name in a plain identity cost a fraction of that.
                    OnTokenValidated = c =>
                    {
                        c.Principal = c.Principal?.KeepingCallerClaims();
                        return Task.CompletedTask;
                    },
                    OnChallenge = async c =>
                    {
                        c.HandleResponse();
                        await ProblemMapping.WriteAsync(c.HttpContext, StatusCodes.Status401Unauthorized, "Unauthorized",
                            "Sign in and send 'Authorization: Bearer <token>'.");
                    },
                };
            });
        services.AddAuthorization();

        var limits = config.GetSection(RateLimits.SectionName).Get<RateLimits>() ?? new RateLimits();
        services.AddRateLimiter(o => RateLimits.Configure(o, limits));
        services.AddProblemJson();
        services.AddHealthChecks().AddCheck<GrainsHealthCheck>("cluster");
        services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.Encoder = ChatJson.WireOptions.Encoder;
            o.SerializerOptions.TypeInfoResolverChain.Insert(0, ChatJson.Wire);
        });
        return builder;
    }

    public static WebApplication MapChatGrainsApi(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseChatPage();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseRateLimiter();
        app.MapHealthChecks("/health");
        // This host's feeds, for operators (and the cluster tests that check nothing leaks), and
        // its managed heap, which the benchmark reads to work out the memory cost of a watcher.
        app.MapGet("/health/feeds", (FeedMetrics m) => TypedResults.Ok(
            new FeedCounters(m.Feeds, m.Watchers, m.Subscriptions, m.WatchersCutOff, GC.GetTotalMemory(false))));
        app.MapAuthApi();
        app.MapConversationsApi();
        app.MapMessagesApi();
        app.MapEventsApi();
        return app;
    }

    public sealed record FeedCounters(int Feeds, int Watchers, int Subscriptions, long WatchersCutOff, long GcHeapBytes);
}
