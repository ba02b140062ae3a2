using ChatGrains.Api.Apis;
using ChatGrains.Api.Auth;
using ChatGrains.Api.Feeds;
using ChatGrains.Api.OpenApi;
using ChatGrains.Api.Presence;
using ChatGrains.Hosting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using Orleans.Configuration;
using Orleans.Dashboard;

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
        // A configured key that is short or public lets anyone forge tokens: refuse it in any mode.
        SigningKeyRules.ThrowIfUnusable("Auth:SigningKey", config["Auth:SigningKey"]);
        SigningKeyRules.ThrowIfUnusable("Operators:Key", config["Operators:Key"]);
        // Request lines carry watch streams' ?access_token= (EventSource cannot send headers), and
        // the hosting diagnostics log them at Information: keep them out of every log, as the
        // ASP.NET Core docs advise for SignalR's query tokens. Set in code, after configuration,
        // so no log level setting brings them back.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.Warning);
        // When a host's streams all drop at once (a network blip, a proxy restart), every client
        // reconnects in the same second. Kestrel's default listen backlog of 512 then overflows and
        // the kernel drops the extra SYNs, which clients resend after 1, 3, 7, 15 and 31 s: the
        // 10,000-watcher resume storm took 30 s for its last watchers. The kernel caps this at
        // net.core.somaxconn (4096 on current kernels).
        builder.WebHost.UseSockets(o => o.Backlog = config.GetValue("Server:ListenBacklog", 4096));
        if (cluster.IsCluster)
        {
            // A client may land on any host: every host must sign and check with the same key.
            if (string.IsNullOrWhiteSpace(config["Auth:SigningKey"]))
                throw new InvalidOperationException("Cluster mode needs Auth:SigningKey (at least 32 bytes, e.g. `openssl rand -base64 48`), shared by every API host, so that each accepts the others' tokens.");
            builder.UseOrleansClient(client => client
                // Grain calls carry the request's trace; /dashboard reads the silos' dashboard grains.
                .AddActivityPropagation()
                .AddDashboard(o => o.HideTrace = true)
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
            builder.AddCoHostedSilo();
        }
        builder.AddChatGrainsTelemetry(cluster.IsCluster ? TelemetryHosting.ApiRole : null);

        services.AddOptions<FeedOptions>().Bind(config.GetSection(FeedOptions.SectionName))
            .Validate(o => o.WatcherBuffer >= 16 && o.RecentEvents > 0 && o.HeartbeatInterval >= TimeSpan.FromMilliseconds(100),
                "Feeds: WatcherBuffer >= 16, RecentEvents > 0, HeartbeatInterval >= 100ms.")
            .ValidateOnStart();
        services.AddOptions<MessageLimits>().Bind(config.GetSection(MessageLimits.SectionName))
            .Validate(o => o.MaxContentBytes > 0, "Limits:MaxContentBytes must be positive.").ValidateOnStart();
        services.AddOptions<AuthOptions>().Bind(config.GetSection(AuthOptions.SectionName))
            .Validate(o => o.GuestTokenLifetime > TimeSpan.Zero, "Auth:GuestTokenLifetime must be positive.")
            .Validate(o => !string.IsNullOrWhiteSpace(o.Issuer) && !string.IsNullOrWhiteSpace(o.Audience), "Auth:Issuer and Auth:Audience must be set.")
            .ValidateOnStart();
        services.AddOptions<OperatorOptions>().Bind(config.GetSection(OperatorOptions.SectionName))
            .Validate(o => !string.IsNullOrWhiteSpace(o.RoleClaim) && !string.IsNullOrWhiteSpace(o.Role), "Operators:RoleClaim and Operators:Role must be set.")
            .ValidateOnStart();
        services.AddSingleton<FeedMetrics>();
        services.AddSingleton<FeedHub>();
        services.AddSingleton<HeartbeatScheduler>();
        services.AddHostedService(sp => sp.GetRequiredService<HeartbeatScheduler>());
        services.AddPresence(config);

        services.AddSingleton<SigningKey>();
        services.AddSingleton<GuestTokens>();
        services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer();
        services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme)
            .Configure<SigningKey, IOptions<AuthOptions>, IOptions<OperatorOptions>>((jwt, key, auth, operators) =>
            {
                jwt.MapInboundClaims = false;
                // A watch request holds its authentication result for as long as it streams, so
                // what that result keeps is paid per watcher: not the raw token (nothing reads
                // it back), and not the parsed token (see OnTokenValidated).
                jwt.SaveToken = false;
                // An external issuer can be configured with the standard
                // Authentication:Schemes:Bearer settings (Authority, or ValidIssuer and signing
                // keys, and ValidAudience); guest tokens are always accepted. Those settings may
                // leave issuer or audience unchecked: every token here must pass all checks.
                var p = jwt.TokenValidationParameters;
                p.ValidIssuers = [.. p.ValidIssuers ?? [], auth.Value.Issuer, .. jwt.TokenValidationParameters.ValidIssuer is { } i ? new[] { i } : []];
                p.ValidAudiences = [.. p.ValidAudiences ?? [], auth.Value.Audience];
                p.IssuerSigningKeys = [.. p.IssuerSigningKeys ?? [], key.Key];
                (p.ValidateIssuer, p.ValidateAudience, p.ValidateLifetime, p.RequireExpirationTime, p.RequireSignedTokens, p.ValidateIssuerSigningKey)
                    = (true, true, true, true, true, true);
                p.NameClaimType = "name";
                jwt.Events = new JwtBearerEvents
                {
                    // A native EventSource cannot set headers: its GET of a watch stream may pass
                    // the token in the query. Anywhere else a query token is ignored.
                    OnMessageReceived = c =>
                    {
                        c.Token = AcceptsQueryToken.From(c.HttpContext);
                        return Task.CompletedTask;
                    },
                    OnTokenValidated = c =>
                    {
                        // The handler tries every key for every issuer: bind the guest key and the
                        // guest issuer to each other, so a token with our key and another issuer
                        // (or another key and our issuer) is no one.
                        var guestIssuer = c.SecurityToken.Issuer == auth.Value.Issuer;
                        var guestKey = ReferenceEquals(c.SecurityToken.SigningKey, key.Key);
                        if (guestIssuer != guestKey)
                        {
                            c.Fail("The token's issuer does not match the key it is signed with.");
                            return Task.CompletedTask;
                        }
                        // The validated identity keeps the whole parsed token (its JSON, claim caches,
                        // locks) to build claims lazily: about 4 KB for every open stream. The user's
                        // id and name in a plain identity cost a fraction of that.
                        c.Principal = c.Principal?.KeepingCallerClaims(operators.Value.RoleClaim);
                        // Nor the token's issue and expiry times the handler puts in the result's
                        // properties: nothing here reads them, and each stream would keep them.
                        c.Properties = new AuthenticationProperties();
                        return Task.CompletedTask;
                    },
                    OnForbidden = c => ProblemMapping.WriteAsync(c.HttpContext, StatusCodes.Status403Forbidden, "Forbidden",
                        "This route is for operators: send the operator key, or a token of your identity provider with the operator role."),
                    OnChallenge = async c =>
                    {
                        c.HandleResponse();
                        await ProblemMapping.WriteAsync(c.HttpContext, StatusCodes.Status401Unauthorized, "Unauthorized",
                            "Sign in and send 'Authorization: Bearer <token>'.");
                    },
                };
            });
        services.AddAuthorization();
        services.AddOperatorAccess();

        var limits = config.GetSection(RateLimits.SectionName).Get<RateLimits>() ?? new RateLimits();
        services.AddRateLimiter(o => RateLimits.Configure(o, limits));
        services.AddProblemJson();
        // The request records' DataAnnotations, checked through source-generated validation info (JsonBody).
        services.AddValidation();
        services.AddApiDescription();
        services.AddChatGrainsHealth();
        services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.Encoder = ChatJson.WireOptions.Encoder;
            o.SerializerOptions.TypeInfoResolverChain.Insert(0, ChatJson.Wire);
        });
        return builder;
    }

    public static WebApplication MapChatGrainsApi(this WebApplication app)
    {
        app.UseSecurityHeaders();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseChatPage();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseRateLimiter();
        // Anonymous: orchestrators probe them.
        app.MapChatGrainsHealth();
        // The Orleans dashboard (silos, grains, calls), for operators only: its page and the
        // JSON it polls alike.
        app.MapOrleansDashboard("/dashboard").RequireAuthorization(OperatorAccess.Policy).ExcludeFromDescription();
        // This host's feeds, for operators (and the cluster tests that check nothing leaks), and
        // its managed heap, which the benchmark reads to work out the memory cost of a watcher,
        // and the time this process has spent compiling code (a host is warm once that stops growing).
        app.MapGet("/health/feeds", (FeedMetrics m) => TypedResults.Ok(
            new FeedCounters(m.Feeds, m.Watchers, m.Subscriptions, m.WatchersCutOff, GC.GetTotalMemory(false),
                System.Runtime.JitInfo.GetCompilationTime().TotalMilliseconds)))
            .RequireAuthorization(OperatorAccess.Policy).WithTags("Operators").Refuses(401, 403);
        app.MapApiDescription();
        app.MapAuthApi();
        app.MapConversationsApi();
        app.MapMessagesApi();
        app.MapEventsApi();
        app.MapPresenceApi();
        app.MapMeApi();
        return app;
    }

    public sealed record FeedCounters(int Feeds, int Watchers, int Subscriptions, long WatchersCutOff, long GcHeapBytes, double JitMilliseconds);
}
