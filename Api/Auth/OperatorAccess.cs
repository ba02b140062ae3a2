using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace ChatGrains.Api.Auth;

public sealed class OperatorOptions
{
    public const string SectionName = "Operators";

    /// <summary>
    /// A secret that operators' tools send as <c>Authorization: Bearer &lt;key&gt;</c> (curl,
    /// Prometheus' <c>authorization</c>). Unset: only the role claim below opens operator routes.
    /// </summary>
    public string? Key { get; set; }

    /// <summary>The claim, in a token of the deployment's own identity provider, that makes its holder an operator.</summary>
    public string RoleClaim { get; set; } = "role";

    /// <summary>The value of <see cref="RoleClaim"/> that makes its holder an operator.</summary>
    public string Role { get; set; } = "chatgrains-operator";
}

/// <summary>
/// Who may see operator routes (<c>/health/feeds</c>, later the dashboard): the policy
/// <see cref="Policy"/>, satisfied by the configured operator key or by the operator role claim
/// in a token of an external issuer. Guest tokens never qualify: they carry no role, and a role
/// claim from the guest issuer is ignored in any case.
/// </summary>
public static class OperatorAccess
{
    public const string Policy = "Operator";
    public const string KeyScheme = "OperatorKey";

    public static IServiceCollection AddOperatorAccess(this IServiceCollection services)
    {
        services.AddAuthentication().AddScheme<AuthenticationSchemeOptions, OperatorKeyHandler>(KeyScheme, null);
        services.AddOptions<AuthorizationOptions>().Configure<IOptions<OperatorOptions>, IOptions<AuthOptions>>((authorization, operators, auth) =>
            authorization.AddPolicy(Policy, policy => policy
                // The key first: its scheme leaves the challenge (401) and the refusal (403) to the bearer scheme.
                .AddAuthenticationSchemes(KeyScheme, JwtBearerDefaults.AuthenticationScheme)
                .RequireAuthenticatedUser()
                .RequireAssertion(c => IsOperator(c.User, operators.Value, auth.Value.Issuer))));
        return services;
    }

    private static bool IsOperator(ClaimsPrincipal user, OperatorOptions operators, string guestIssuer) =>
        user.Identities.Any(i => i.IsAuthenticated && i.AuthenticationType == KeyScheme)
        || user.Claims.Any(c => c.Type == operators.RoleClaim && c.Value == operators.Role && c.Issuer != guestIssuer);

    /// <summary>Authenticates <c>Authorization: Bearer &lt;operator key&gt;</c>; any other bearer value is left to the JWT scheme.</summary>
    private sealed class OperatorKeyHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder,
        IOptions<OperatorOptions> operators) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
    {
        protected override Task<AuthenticateResult> HandleAuthenticateAsync()
        {
            var configured = operators.Value.Key;
            var header = Request.Headers[HeaderNames.Authorization].ToString();
            const string bearer = "Bearer ";
            if (string.IsNullOrEmpty(configured) || !header.StartsWith(bearer, StringComparison.OrdinalIgnoreCase))
                return Task.FromResult(AuthenticateResult.NoResult());
            var sent = Encoding.UTF8.GetBytes(header[bearer.Length..].Trim());
            if (!CryptographicOperations.FixedTimeEquals(SHA256.HashData(sent), SHA256.HashData(Encoding.UTF8.GetBytes(configured))))
                return Task.FromResult(AuthenticateResult.NoResult());
            var identity = new ClaimsIdentity([new Claim("name", "operator")], KeyScheme);
            return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), KeyScheme)));
        }

        // The bearer scheme, next in the policy, writes the problem+json answer.
        protected override Task HandleChallengeAsync(AuthenticationProperties properties) => Task.CompletedTask;

        protected override Task HandleForbiddenAsync(AuthenticationProperties properties) => Task.CompletedTask;
    }
}
