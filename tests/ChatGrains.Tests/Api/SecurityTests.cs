using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using ChatGrains.Api;
using ChatGrains.Api.Auth;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace ChatGrains.Tests.Api;

/// <summary>
/// The service with a guest signing key the test knows (so it can sign tokens the way an
/// attacker who guessed something would), an operator key, and an external identity provider
/// configured with the standard <c>Authentication:Schemes:Bearer</c> settings.
/// </summary>
public sealed class SecurityFixture : ApiServerFixture
{
    public const string ExternalIssuer = "corporate-idp";
    public const string ExternalAudience = "chatgrains-api";

    // Initialized before the base constructor starts the service with Settings.
    public SymmetricSecurityKey GuestKey { get; } = new(Encoding.UTF8.GetBytes(Convert.ToBase64String(RandomNumberGenerator.GetBytes(48))));
    public SymmetricSecurityKey ExternalKey { get; } = new(RandomNumberGenerator.GetBytes(32));
    public string OperatorKey { get; } = Convert.ToBase64String(RandomNumberGenerator.GetBytes(48));

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Auth:SigningKey"] = Encoding.UTF8.GetString(GuestKey.Key),
        ["Operators:Key"] = OperatorKey,
        ["Authentication:Schemes:Bearer:ValidIssuer"] = ExternalIssuer,
        ["Authentication:Schemes:Bearer:ValidAudience"] = ExternalAudience,
        ["Authentication:Schemes:Bearer:SigningKeys:0:Issuer"] = ExternalIssuer,
        ["Authentication:Schemes:Bearer:SigningKeys:0:Value"] = Convert.ToBase64String(ExternalKey.Key),
    };
}

/// <summary>
/// Who the service takes a token for: guests only with guest tokens of a day, an external
/// issuer only with its own key, operators only with the operator key or the operator role of
/// the external issuer; tokens in the query only where EventSource needs them.
/// </summary>
[Trait("Category", TestCategory.Api)]
public sealed class SecurityTests(SecurityFixture fixture) : IClassFixture<SecurityFixture>
{
    private readonly ApiServer _server = fixture.Server;

    [Fact]
    public async Task A_guest_token_is_valid_for_24_hours_for_our_issuer_and_audience()
    {
        using var ada = await _server.SignInAsync("Ada");

        var token = new JsonWebToken(ada.Token);
        Assert.Equal(TimeSpan.FromHours(24), token.ValidTo - token.IssuedAt);
        Assert.Equal("chatgrains", token.Issuer);
        Assert.Equal(["chatgrains"], token.Audiences);
    }

    [Fact]
    public async Task Sign_in_takes_only_a_name_so_a_guest_cannot_ask_for_a_role()
    {
        using var http = _server.CreateSocketClient();
        var response = await http.PostAsJsonAsync("/api/auth/guest", new { name = "Mallory", role = "chatgrains-operator", roles = new[] { "chatgrains-operator" } });
        response.EnsureSuccessStatusCode();
        var token = (await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("token").GetString()!;

        Assert.DoesNotContain(new JsonWebToken(token).Claims, c => c.Type is "role" or "roles" || c.Value == "chatgrains-operator");
        await Problems.AssertAsync(await GetAsync("/health/feeds", token), 403, "a guest on an operator route");
    }

    public static TheoryData<string, string, string, int, int> Tokens => new()
    {
        // case, signed with, issuer, lifetime from now in minutes (negative: expired), expected status
        { "a guest token as we issue it", "guest", "chatgrains", 60, 200 },
        { "a guest token expired 10 minutes ago", "guest", "chatgrains", -10, 401 },
        { "our key, an unknown issuer", "guest", "someone-else", 60, 401 },
        { "our key, the external issuer's name", "guest", SecurityFixture.ExternalIssuer, 60, 401 },
        { "the external issuer with its own key", "external", SecurityFixture.ExternalIssuer, 60, 200 },
        { "the external key, our issuer's name", "external", "chatgrains", 60, 401 },
        { "a key nobody configured, our issuer", "random", "chatgrains", 60, 401 },
    };

    [Theory]
    [MemberData(nameof(Tokens))]
    public async Task A_token_is_accepted_only_from_its_issuer_with_that_issuers_key_and_before_it_expires(
        string name, string key, string issuer, int minutes, int status)
    {
        var audience = issuer == SecurityFixture.ExternalIssuer ? SecurityFixture.ExternalAudience : "chatgrains";
        var token = Sign(KeyNamed(key), issuer, audience, TimeSpan.FromMinutes(minutes));

        var response = await GetAsync("/api/conversations", token);

        if (status == 200) Assert.True(response.StatusCode == HttpStatusCode.OK, $"{name}: {(int)response.StatusCode}");
        else await Problems.AssertAsync(response, status, name);
    }

    [Fact]
    public async Task A_guest_token_for_another_audience_is_refused()
    {
        await Problems.AssertAsync(await GetAsync("/api/conversations", Sign(fixture.GuestKey, "chatgrains", "another-service", TimeSpan.FromHours(1))), 401, "wrong audience");
    }

    [Fact]
    public async Task Feed_counters_are_for_operators_only()
    {
        using var ada = await _server.SignInAsync("Ada");
        var external = (string role) => Sign(fixture.ExternalKey, SecurityFixture.ExternalIssuer, SecurityFixture.ExternalAudience, TimeSpan.FromHours(1), new Claim("role", role));

        await Problems.AssertAsync(await GetAsync("/health/feeds", null), 401, "anonymous");
        await Problems.AssertAsync(await GetAsync("/health/feeds", "not-the-operator-key-but-long-enough-0123456789"), 401, "a wrong operator key");
        await Problems.AssertAsync(await GetAsync("/health/feeds", ada.Token), 403, "a guest");
        // Even with our key, the guest issuer cannot grant the operator role.
        var guestWithRole = Sign(fixture.GuestKey, "chatgrains", "chatgrains", TimeSpan.FromHours(1), new Claim("role", "chatgrains-operator"));
        await Problems.AssertAsync(await GetAsync("/health/feeds", guestWithRole), 403, "a guest token claiming the role");
        await Problems.AssertAsync(await GetAsync("/health/feeds", external("reader")), 403, "an external user without the role");

        foreach (var (who, credential) in new[] { ("the operator key", fixture.OperatorKey), ("an external operator", external("chatgrains-operator")) })
        {
            var response = await GetAsync("/health/feeds", credential);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{who}: {(int)response.StatusCode}");
            var counters = await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();
            Assert.True(counters.GetProperty("gcHeapBytes").GetInt64() > 0, who);
        }
        // Orchestrators probe /health without credentials.
        Assert.Equal(HttpStatusCode.OK, (await GetAsync("/health", null)).StatusCode);
    }

    [Fact]
    public async Task The_operator_key_is_not_a_user()
    {
        await Problems.AssertAsync(await GetAsync("/api/conversations", fixture.OperatorKey), 401, "the operator key on a user route");
    }

    [Fact]
    public async Task A_query_token_works_only_on_the_GET_of_a_watch_stream()
    {
        using var ada = await _server.SignInAsync("Ada");
        var id = await ada.CreateConversationAsync();
        var query = $"access_token={Uri.EscapeDataString(ada.Token)}";
        // No headers at all, as a native EventSource sends.
        using var eventSource = new HttpClient { BaseAddress = _server.BaseAddress };

        using (var watch = await eventSource.GetAsync($"/api/conversations/{id}/events?{query}", HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal(HttpStatusCode.OK, watch.StatusCode);
            Assert.Equal("text/event-stream", watch.Content.Headers.ContentType?.MediaType);
        }

        var elsewhere = new (HttpMethod Method, string Path)[]
        {
            (HttpMethod.Post, $"/api/conversations/{id}/events"),
            (HttpMethod.Get, "/api/conversations"),
            (HttpMethod.Get, $"/api/conversations/{id}"),
            (HttpMethod.Post, "/api/conversations"),
            (HttpMethod.Post, $"/api/conversations/{id}/invites"),
            (HttpMethod.Post, $"/api/conversations/{id}/messages"),
            (HttpMethod.Get, "/health/feeds"),
        };
        foreach (var (method, path) in elsewhere)
        {
            var request = new HttpRequestMessage(method, $"{path}?{query}");
            if (method == HttpMethod.Post) request.Content = JsonContent.Create(new { title = "x", content = "hello" });
            await Problems.AssertAsync(await eventSource.SendAsync(request), 401, $"{method} {path}");
        }
        // The operator key is not taken from the query either.
        await Problems.AssertAsync(await eventSource.GetAsync($"/health/feeds?access_token={Uri.EscapeDataString(fixture.OperatorKey)}"), 401, "operator key in the query");
        // Nothing was created or posted by the refused requests.
        Assert.Equal(0, (await ada.SnapshotAsync(id)).GetProperty("lastEventId").GetInt64());
    }

    [Fact]
    public async Task Every_response_carries_the_security_headers()
    {
        using var ada = await _server.SignInAsync("Ada");
        using var anonymous = _server.CreateSocketClient();

        var responses = new Dictionary<string, HttpResponseMessage>
        {
            ["the page"] = await anonymous.GetAsync("/"),
            ["its script"] = await anonymous.GetAsync("/app.js"),
            ["an API answer"] = await ada.Http.GetAsync("/api/conversations"),
            ["a 401"] = await anonymous.GetAsync("/api/conversations"),
            ["a problem from the exception handler"] = await ada.Http.GetAsync("/api/conversations/no-such-conversation"),
            ["the health check"] = await anonymous.GetAsync("/health"),
        };

        foreach (var (what, response) in responses)
        {
            Assert.Equal(SecurityHeaders.ContentSecurityPolicy, Header(response, "Content-Security-Policy"));
            Assert.Equal("nosniff", Header(response, "X-Content-Type-Options"));
            Assert.Equal("no-referrer", Header(response, "Referrer-Policy"));
            Assert.True(response.StatusCode != HttpStatusCode.InternalServerError, what);
        }
        Assert.DoesNotContain("unsafe-inline", SecurityHeaders.ContentSecurityPolicy);
        Assert.Contains("connect-src 'self'", SecurityHeaders.ContentSecurityPolicy);
    }

    [Theory]
    [InlineData("0123456789012345678901234567890", false)] // 31 bytes
    [InlineData("01234567890123456789012345678901", true)]
    [InlineData("éééééééééééééééé", true)] // 16 characters, 32 bytes in UTF-8
    [InlineData("local-dev-only-signing-key-change-me-0123456789", false)] // the old compose default
    public void A_key_is_usable_only_when_it_has_32_bytes_and_was_never_published(string key, bool usable)
    {
        Assert.Equal(usable, SigningKeyRules.Problem("Auth:SigningKey", key) is null);
    }

    private SecurityKey KeyNamed(string name) => name switch
    {
        "guest" => fixture.GuestKey,
        "external" => fixture.ExternalKey,
        _ => new SymmetricSecurityKey(RandomNumberGenerator.GetBytes(48)),
    };

    /// <summary>A token as the service's own guest sign-in makes one, with the key, issuer, audience and times chosen by the test.</summary>
    public static string Sign(SecurityKey key, string issuer, string audience, TimeSpan lifetime, params Claim[] extra)
    {
        var now = DateTime.UtcNow;
        var issued = lifetime < TimeSpan.Zero ? now + lifetime - TimeSpan.FromHours(1) : now;
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            IssuedAt = issued,
            NotBefore = issued,
            Expires = now + lifetime,
            Subject = new ClaimsIdentity([new Claim("sub", Guid.NewGuid().ToString("N")), new Claim("name", "Someone"), .. extra]),
            SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.HmacSha256),
        });
    }

    private async Task<HttpResponseMessage> GetAsync(string path, string? bearer)
    {
        using var http = _server.CreateSocketClient();
        if (bearer is not null) http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        var response = await http.GetAsync(path);
        await response.Content.LoadIntoBufferAsync();
        return response;
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values) ? string.Join(",", values) : null;
}
