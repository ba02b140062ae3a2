using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using ChatGrains.Api.Auth;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace ChatGrains.Tests.Api;

/// <summary>Replies stream slowly enough that one is still open while the refusals are sent.</summary>
public sealed class DescribedServerFixture : ApiServerFixture
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?> { ["Generator:TokensPerSecond"] = "100" };
}

/// <summary>Every limit at its tightest: one prompt, one typing notice and two sign-ins a minute.</summary>
public sealed class TightLimitsFixture : ApiServerFixture
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["RateLimits:SignInsPerMinute"] = "2",
        ["RateLimits:PromptsPerMinute"] = "1",
        ["RateLimits:TypingPerMinute"] = "1",
    };
}

/// <summary>
/// A deployment without guest sign-in whose cluster is away: every grain call times out, as
/// while a silo dies. Tokens are issued by the host's own <see cref="GuestTokens"/>.
/// </summary>
public sealed class ClusterAwayFixture : ApiServerFixture
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?> { ["Auth:GuestSignIn"] = "false" };

    protected override Action<IServiceCollection> ConfigureServices => services => services.AddSingleton<IOutgoingGrainCallFilter, TimingOut>();

    private sealed class TimingOut : IOutgoingGrainCallFilter
    {
        public Task Invoke(IOutgoingGrainCallContext call) =>
            call.InterfaceMethod.DeclaringType is { } type && (type == typeof(IConversationGrain) || type == typeof(IUserGrain) || type == typeof(IEventLog) || type == typeof(IPresenceGrain))
                ? throw new TimeoutException($"Response did not arrive on time in 00:00:10 for message: {call.InterfaceName}.{call.MethodName}")
                : call.Invoke();
    }
}

/// <summary>
/// The OpenAPI document against the running service: every route the app maps is in it, and
/// every problem status it documents for a route is one that route really answers. The second
/// is table-driven: each documented (route, status) must have a way to provoke it below, and
/// each is provoked over a real socket (on the server whose settings make it possible) and must
/// answer exactly that status as problem+json. A status documented without a provoker fails,
/// as does a provoker whose route no longer answers its status.
/// </summary>
[Trait("Category", TestCategory.Api)]
public sealed class ApiDescriptionTests(DescribedServerFixture described, TightLimitsFixture limited, ClusterAwayFixture away)
    : IClassFixture<DescribedServerFixture>, IClassFixture<TightLimitsFixture>, IClassFixture<ClusterAwayFixture>
{
    /// <summary>
    /// Endpoints that are not the API and so not in its description, each with its reason. A
    /// new endpoint elsewhere fails the completeness test until it is documented or listed here.
    /// </summary>
    private static readonly (string Pattern, bool AndBelow, string Why)[] Undocumented =
    [
        ("/openapi/{documentName}.json", false, "the description itself"),
        ("/docs", true, "Scalar's reference page, its script and favicon"),
        ("/health", false, "the orchestrators' probe (health checks, not an API route)"),
        ("/health/live", false, "the orchestrators' liveness probe"),
        ("/health/ready", false, "the orchestrators' readiness probe"),
        ("/dashboard", true, "the Orleans dashboard's page and data, for operators (its own UI, not our API)"),
    ];

    private static bool IsUndocumented(string path) =>
        Undocumented.Any(u => path == Normalize(u.Pattern) || (u.AndBelow && path.StartsWith(Normalize(u.Pattern) + "/")));

    private static readonly string[] Methods = ["get", "put", "post", "delete", "patch", "head", "options", "trace"];

    private async Task<JsonElement> DocumentAsync(ApiServer server)
    {
        using var client = server.CreateSocketClient();
        var response = await client.GetAsync("/openapi/v1.json");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    /// <summary>(METHOD, path) of every operation in the document.</summary>
    private static IEnumerable<(string Method, string Path, JsonElement Operation)> Operations(JsonElement document) =>
        from path in document.GetProperty("paths").EnumerateObject()
        from op in path.Value.EnumerateObject()
        where Methods.Contains(op.Name)
        select (op.Name.ToUpperInvariant(), path.Name, op.Value);

    /// <summary>A route pattern as the document writes it: no constraints, no trailing slash.</summary>
    private static string Normalize(string pattern)
    {
        var path = Regex.Replace(pattern, @"\{([^}:=?]+)[^}]*\}", "{$1}").TrimEnd('/');
        return path.Length == 0 ? "/" : (path.StartsWith('/') ? path : "/" + path);
    }

    [Fact]
    public async Task Every_route_the_app_maps_is_in_the_document_and_every_documented_route_is_mapped()
    {
        var document = await DocumentAsync(described.Server);
        var documented = Operations(document).Select(o => $"{o.Method} {o.Path}").ToHashSet();

        var mapped = new HashSet<string>();
        var sources = described.Server.Services.GetServices<EndpointDataSource>();
        foreach (var endpoint in sources.SelectMany(s => s.Endpoints).OfType<RouteEndpoint>())
        {
            var path = Normalize(endpoint.RoutePattern.RawText ?? "");
            if (IsUndocumented(path)) continue;
            var methods = endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods;
            Assert.True(methods is { Count: > 0 }, $"{path} answers every method: name them, so the document can");
            foreach (var method in methods!) mapped.Add($"{method} {path}");
        }

        Assert.Empty(mapped.Except(documented).Order());
        Assert.Empty(documented.Except(mapped).Order());
        // The routes this suite knows of, so that neither side can be empty by mistake.
        Assert.Contains("POST /api/conversations/{id}/messages", documented);
        Assert.Contains("GET /api/conversations/{id}/events", documented);
    }

    [Fact]
    public async Task The_document_describes_bodies_problems_streams_and_the_bearer_scheme()
    {
        var document = await DocumentAsync(described.Server);
        var schemes = document.GetProperty("components").GetProperty("securitySchemes");
        Assert.Equal("bearer", schemes.GetProperty("bearer").GetProperty("scheme").GetString());

        foreach (var (method, path, operation) in Operations(document))
        {
            foreach (var response in operation.GetProperty("responses").EnumerateObject().Where(r => r.Name[0] is '4' or '5'))
                Assert.True(response.Value.GetProperty("content").TryGetProperty("application/problem+json", out _), $"{method} {path} {response.Name} is problem+json");
            if (path.StartsWith("/api/") && path != "/api/auth/guest")
                Assert.True(operation.TryGetProperty("security", out _), $"{method} {path} names the bearer scheme");
        }

        var post = document.GetProperty("paths").GetProperty("/api/conversations/{id}/messages").GetProperty("post");
        var body = post.GetProperty("requestBody").GetProperty("content").GetProperty("application/json").GetProperty("schema");
        Assert.Contains("content", Resolve(document, body).GetProperty("required").EnumerateArray().Select(e => e.GetString()));
        var stream = post.GetProperty("responses").GetProperty("200").GetProperty("content").GetProperty("text/event-stream").GetProperty("schema");
        var events = stream.GetProperty("oneOf").EnumerateArray().Select(e => e.GetProperty("properties").GetProperty("event").GetProperty("const").GetString()).ToList();
        Assert.Equal(["message.created", "message.delta", "message.completed", "member.joined", "member.left", "conversation.updated", "conversation.head", "conversation.deleted", "reset"], events);
        var delta = stream.GetProperty("oneOf")[1].GetProperty("properties").GetProperty("data");
        Assert.Equal(["messageId", "delta"], Resolve(document, delta).GetProperty("properties").EnumerateObject().Select(p => p.Name));

        var watch = document.GetProperty("paths").GetProperty("/api/conversations/{id}/events").GetProperty("get").GetProperty("responses").GetProperty("200");
        var watched = watch.GetProperty("content").GetProperty("text/event-stream").GetProperty("schema").GetProperty("oneOf").EnumerateArray()
            .Select(e => e.GetProperty("properties").GetProperty("event").GetProperty("const").GetString());
        Assert.Contains("presence", watched);
        Assert.Contains("`typing` (no `id:`)", watch.GetProperty("description").GetString());
    }

    private static JsonElement Resolve(JsonElement document, JsonElement schema) =>
        schema.TryGetProperty("$ref", out var reference)
            ? document.GetProperty("components").GetProperty("schemas").GetProperty(reference.GetString()!.Split('/')[^1])
            : schema;

    [Fact]
    public async Task The_reference_is_served_with_its_own_script_under_a_policy_that_lets_it_run()
    {
        using var client = described.Server.CreateSocketClient();
        var page = await client.GetAsync("/docs/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        var html = await page.Content.ReadAsStringAsync();
        var policy = page.Headers.GetValues("Content-Security-Policy").Single();
        var nonce = Regex.Match(policy, "script-src 'self' 'nonce-([^']+)'").Groups[1].Value;
        Assert.NotEmpty(nonce);
        // Every script tag carries this response's nonce, and every script it loads comes from here.
        var scripts = Regex.Matches(html, "<script[^>]*>").Select(m => m.Value).ToList();
        Assert.NotEmpty(scripts);
        Assert.All(scripts, s => Assert.Contains($"nonce=\"{nonce}\"", s));
        foreach (var src in scripts.Select(s => Regex.Match(s, "src=\"([^\"]+)\"")).Where(m => m.Success).Select(m => m.Groups[1].Value))
        {
            Assert.False(Uri.TryCreate(src, UriKind.Absolute, out _), $"{src} is loaded from elsewhere");
            var script = await client.GetAsync(new Uri(new Uri(described.Server.BaseAddress, "/docs/"), src));
            Assert.Equal(HttpStatusCode.OK, script.StatusCode);
        }
        // A second load gets another nonce; the chat page keeps its strict policy.
        var again = (await client.GetAsync("/docs/")).Headers.GetValues("Content-Security-Policy").Single();
        Assert.DoesNotContain(nonce, again);
        var chat = await client.GetAsync("/");
        Assert.Equal(ChatGrains.Api.SecurityHeaders.ContentSecurityPolicy, chat.Headers.GetValues("Content-Security-Policy").Single());
    }

    /// <summary>The people and messages a provoker needs, on the server that streams slowly.</summary>
    private sealed record World(ApiUser Ada, ApiUser Bob, ApiUser Eve, HttpClient Anonymous, string Id, string Prompt, string Reply, string Invite);

    private async Task<World> WorldAsync()
    {
        var server = described.Server;
        var (ada, bob, eve) = (await server.SignInAsync("Ada"), await server.SignInAsync("Bob"), await server.SignInAsync("Eve"));
        var id = await ada.CreateConversationAsync();
        await ada.ShareWithAsync(id, bob);
        await using (var answered = await ada.PostAsync(id, "first")) await answered.ReadToEndAsync();
        var messages = (await ada.SnapshotAsync(id)).GetProperty("messages");
        var (prompt, reply) = (messages[0].GetProperty("id").GetString()!, messages[1].GetProperty("id").GetString()!);
        await ada.PostAcceptedAsync(id, "second", "posted-key");
        var invite = (await (await ada.Http.PostAsync($"/api/conversations/{id}/invites", null)).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("inviteToken").GetString()!;
        return new World(ada, bob, eve, server.CreateSocketClient(), id, prompt, reply, invite);
    }

    /// <summary>A valid body for each route that takes one (sent where the refusal is not about the body).</summary>
    private static string? ValidBody(string method, string path, World? w) => (method, path) switch
    {
        ("POST", "/api/auth/guest") => "{\"name\": \"Ann\"}",
        ("POST", "/api/conversations") => "{\"title\": \"t\"}",
        ("PATCH", "/api/conversations/{id}") => "{\"title\": \"t\"}",
        ("POST", "/api/conversations/{id}/invites") => "{}",
        ("POST", "/api/conversations/{id}/members") => $"{{\"inviteToken\": \"{w?.Invite ?? "t"}\"}}",
        ("POST", "/api/conversations/{id}/head") or ("POST", "/api/conversations/{id}/fork") => $"{{\"messageId\": \"{w?.Reply ?? "m"}\"}}",
        ("POST", "/api/conversations/{id}/messages") => "{\"content\": \"hi\"}",
        ("POST", "/api/conversations/{id}/read") => "{\"lastEventId\": 1}",
        _ => null,
    };

    private static bool TakesBody(string method, string path) => ValidBody(method, path, null) is not null;

    private static string Fill(string path, World w, string? messageId = null) => path
        .Replace("{id}", w.Id).Replace("{messageId}", messageId ?? w.Reply).Replace("{inviteToken}", w.Invite).Replace("{userId}", w.Bob.UserId);

    private static HttpRequestMessage Request(string method, string path, string? body, params (string Name, string Value)[] headers)
    {
        var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (body is not null) request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        // As a well-behaved client does: the server can refuse (413) before the body is sent.
        if (body is not null) request.Headers.ExpectContinue = true;
        foreach (var (name, value) in headers) request.Headers.TryAddWithoutValidation(name, value);
        return request;
    }

    /// <summary>
    /// How to provoke a documented status on a route of the slow-streaming server. Where a status
    /// has one provoker for every route that documents it (401, 404, 400 and 413 of a body), that
    /// rule is here; the rest are listed per route.
    /// </summary>
    private static Func<World, Task<HttpResponseMessage>>? Provoker(string method, string path, int status)
    {
        Func<World, Task<HttpResponseMessage>> As(Func<World, HttpClient> who, Func<World, string> target, Func<World, string?> body, params (string, string)[] headers) =>
            w => who(w).SendAsync(Request(method, target(w), body(w), headers));
        string Here(World w) => Fill(path, w);
        string? Valid(World w) => ValidBody(method, path, w);

        return (status, method, path) switch
        {
            (401, _, _) => As(w => w.Anonymous, Here, Valid),
            // Sign-in is off only on the cluster-away server: see the limits test.
            (404, "POST", "/api/auth/guest") => null,
            (404, "POST", "/api/conversations/{id}/members") => As(w => w.Eve.Http, Here, _ => "{\"inviteToken\": \"not-a-token\"}"),
            (404, _, _) when path.Contains("{id}") => As(w => w.Eve.Http, Here, Valid),
            (403, "GET", "/health/feeds") => As(w => w.Ada.Http, Here, _ => null),
            (413, _, _) when TakesBody(method, path) => As(w => w.Ada.Http, Here, _ => JsonSerializer.Serialize(new { pad = new string('x', 300_000) })),
            (400, "POST", "/api/auth/guest") => As(w => w.Anonymous, Here, _ => "nope"),
            (400, _, "/api/conversations/{id}/messages/{messageId}/regenerate") => As(w => w.Ada.Http, w => Fill(path, w, w.Prompt), _ => null),
            (400, "GET", "/api/conversations/{id}") or (400, "GET", "/api/conversations/{id}/messages") => As(w => w.Ada.Http, w => Here(w) + "?limit=0", _ => null),
            (400, _, "/api/conversations/{id}/events") or (400, _, "/api/me/events") => As(w => w.Ada.Http, Here, _ => null, ("Last-Event-ID", "x1")),
            (400, _, _) when TakesBody(method, path) => As(w => w.Ada.Http, Here, _ => "nope"),
            (403, "DELETE", "/api/conversations/{id}") => As(w => w.Bob.Http, Here, _ => null),
            (403, "DELETE", "/api/conversations/{id}/invites/{inviteToken}") => As(w => w.Bob.Http, Here, _ => null),
            (403, "DELETE", "/api/conversations/{id}/members/{userId}") => As(w => w.Bob.Http, w => $"/api/conversations/{w.Id}/members/{w.Ada.UserId}", _ => null),
            (409, "DELETE", "/api/conversations/{id}/members/{userId}") => As(w => w.Ada.Http, w => $"/api/conversations/{w.Id}/members/{w.Ada.UserId}", _ => null),
            // At a reply posted just now, so that it is still open.
            (409, "POST", "/api/conversations/{id}/fork") => async w =>
                await w.Ada.Http.SendAsync(Request(method, Here(w), $"{{\"messageId\": \"{await OpenReplyAsync(w)}\"}}")),
            (409, "POST", "/api/conversations/{id}/messages/{messageId}/regenerate") => async w =>
                await w.Ada.Http.SendAsync(Request(method, Fill(path, w, await OpenReplyAsync(w)), null)),
            (409, "POST", "/api/conversations/{id}/messages/{messageId}/cancel") => As(w => w.Ada.Http, Here, _ => null),
            (422, "POST", "/api/conversations/{id}/messages") => As(w => w.Ada.Http, Here, _ => "{\"content\": \"other\"}", ("Idempotency-Key", "posted-key"), ("Accept", "application/json")),
            (422, "POST", "/api/conversations/{id}/messages/{messageId}/regenerate") => As(w => w.Ada.Http, Here, _ => null, ("Idempotency-Key", "posted-key"), ("Accept", "application/json")),
            _ => null,
        };
    }

    private static async Task<string> OpenReplyAsync(World w) =>
        (await w.Ada.PostAcceptedAsync(w.Id, "a prompt whose reply is still streaming")).GetProperty("assistantMessageId").GetString()!;

    /// <summary>Statuses that need another server's settings: provoked by the limits test.</summary>
    private static bool ElsewhereProvoked(string method, string path, int status) =>
        status is 429 or 503 || (status, method, path) is (404, "POST", "/api/auth/guest");

    private static async Task<List<(string Method, string Path, int Status)>> DocumentedProblemsAsync(JsonElement document) =>
        await Task.FromResult((
            from o in Operations(document)
            from r in o.Operation.GetProperty("responses").EnumerateObject()
            let status = int.Parse(r.Name)
            where status >= 400
            select (o.Method, o.Path, status)).ToList());

    private static async Task AssertAnswersAsync(HttpResponseMessage response, int status, string because)
    {
        Assert.True((int)response.StatusCode == status, $"{because}: documented, but answered {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Every_documented_problem_status_is_one_its_route_answers()
    {
        var documented = await DocumentedProblemsAsync(await DocumentAsync(described.Server));
        Assert.Contains(documented, d => d.Status == 409);
        var world = await WorldAsync();
        try
        {
            var unprovoked = documented.Where(d => !ElsewhereProvoked(d.Method, d.Path, d.Status) && Provoker(d.Method, d.Path, d.Status) is null).ToList();
            Assert.True(unprovoked.Count == 0, "documented, but nothing here provokes: " + string.Join(", ", unprovoked));
            // The refusals that change something when they fail to refuse go last: none should.
            foreach (var (method, path, status) in documented.Where(d => !ElsewhereProvoked(d.Method, d.Path, d.Status)).OrderBy(d => d.Status == 409 ? 1 : 0))
                await AssertAnswersAsync(await Provoker(method, path, status)!(world), status, $"{method} {path} {status}");
        }
        finally
        {
            world.Ada.Dispose(); world.Bob.Dispose(); world.Eve.Dispose(); world.Anonymous.Dispose();
        }
    }

    /// <summary>
    /// The answers the framework's own body binding would have changed, kept by the typed
    /// records' binder: any Content-Type, strict numbers, case-sensitive names, null terms as
    /// left out, and a deployment without guest sign-in answering 404 before reading a body.
    /// </summary>
    [Fact]
    public async Task Typed_bodies_keep_the_contracts_answers_where_framework_binding_would_differ()
    {
        using var ada = await described.Server.SignInAsync("Ada");
        var id = await ada.CreateConversationAsync();
        async Task<int> Send(string method, string path, string body, string? contentType = "application/json")
        {
            var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body)) };
            if (contentType is not null) request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
            return (int)(await ada.Http.SendAsync(request)).StatusCode;
        }
        Assert.Equal(200, await Send("PATCH", $"/api/conversations/{id}", "{\"title\": \"plain\"}", "text/plain"));
        Assert.Equal(200, await Send("PATCH", $"/api/conversations/{id}", "{\"title\": \"form\"}", "application/x-www-form-urlencoded"));
        Assert.Equal(200, await Send("PATCH", $"/api/conversations/{id}", "{\"title\": \"none\"}", null));
        Assert.Equal(400, await Send("PATCH", $"/api/conversations/{id}", "{\"Title\": \"cased\"}"));
        Assert.Equal(400, await Send("POST", $"/api/conversations/{id}/invites", "{\"maxUses\": \"3\"}"));
        Assert.Equal(400, await Send("POST", $"/api/conversations/{id}/invites", "{\"maxUses\": 1.5}"));
        Assert.Equal(201, await Send("POST", $"/api/conversations/{id}/invites", "{\"expiresInSeconds\": null, \"maxUses\": null, \"other\": 1}"));
        Assert.Equal(400, await Send("POST", $"/api/conversations/{id}/read", "{\"lastEventId\": \"1\"}"));
        Assert.Equal(204, await Send("POST", $"/api/conversations/{id}/read", "{\"lastEventId\": 1}"));
        // The last rename served is the one without a Content-Type; the refused one changed nothing.
        Assert.Equal("none", (await ada.SnapshotAsync(id)).GetProperty("title").GetString());

        using var anonymous = away.Server.CreateSocketClient();
        var off = await anonymous.SendAsync(Request("POST", "/api/auth/guest", "nope"));
        await AssertAnswersAsync(off, 404, "a bad body to a deployment without guest sign-in");
    }

    [Fact]
    public async Task Every_documented_429_and_503_is_one_its_route_answers_when_limits_are_hit_or_the_cluster_is_away()
    {
        var documented = await DocumentedProblemsAsync(await DocumentAsync(described.Server));

        // 503: every route that documents it, while every grain call times out.
        var tokens = away.Server.Services.GetRequiredService<GuestTokens>();
        using var client = away.Server.CreateSocketClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", tokens.Issue("u1", "Ada"));
        foreach (var (method, path, _) in documented.Where(d => d.Status == 503))
        {
            var target = path.Replace("{id}", "c1").Replace("{messageId}", "m1").Replace("{inviteToken}", "t1").Replace("{userId}", "u2");
            var response = await client.SendAsync(Request(method, target, ValidBody(method, path, null)));
            await AssertAnswersAsync(response, 503, $"{method} {path} 503");
        }
        if (documented.Contains(("POST", "/api/auth/guest", 404)))
            await AssertAnswersAsync(await client.SendAsync(Request("POST", "/api/auth/guest", "{\"name\": \"Ann\"}")), 404, "sign-in while it is off");

        // 429: every route that documents it, past its limit.
        var server = limited.Server;
        using var ada = await server.SignInAsync("Ada");
        var id = await ada.CreateConversationAsync();
        await using (var answered = await ada.PostAsync(id, "first")) await answered.ReadToEndAsync();
        var reply = (await ada.SnapshotAsync(id)).GetProperty("messages")[1].GetProperty("id").GetString()!;
        using var anonymous = server.CreateSocketClient();
        foreach (var (method, path, _) in documented.Where(d => d.Status == 429))
        {
            var who = path == "/api/auth/guest" ? anonymous : ada.Http;
            var target = path.Replace("{id}", id).Replace("{messageId}", reply);
            HttpResponseMessage response;
            var tries = 0;
            // Spend the allowance (the sign-in above, the post above, or none yet), then one more.
            do response = await who.SendAsync(Request(method, target, ValidBody(method, path, null), ("Accept", "application/json")));
            while ((int)response.StatusCode != 429 && ++tries < 5 && response.IsSuccessStatusCode);
            await AssertAnswersAsync(response, 429, $"{method} {path} 429");
        }
    }
}
