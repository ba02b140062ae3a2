using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace ChatGrains.Api.Auth;

/// <summary>Issues guest JWTs, signed with the key the JWT bearer handler validates.</summary>
public sealed class GuestTokens(IOptions<AuthOptions> options, SigningKey key, TimeProvider clock)
{
    private readonly JsonWebTokenHandler _handler = new();

    public string Issue(string userId, string name)
    {
        var o = options.Value;
        var now = clock.GetUtcNow().UtcDateTime;
        return _handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = o.Issuer,
            Audience = o.Audience,
            IssuedAt = now,
            NotBefore = now,
            Expires = now + o.GuestTokenLifetime,
            Subject = new ClaimsIdentity([new Claim(JwtRegisteredClaimNames.Sub, userId), new Claim("name", name)]),
            SigningCredentials = new SigningCredentials(key.Key, SecurityAlgorithms.HmacSha256),
        });
    }
}

/// <summary>
/// The symmetric key for guest tokens: from configuration, else generated once and kept in a
/// file beside the data, so tokens stay valid across restarts.
/// </summary>
public sealed class SigningKey
{
    public SigningKey(IOptions<AuthOptions> options)
    {
        var o = options.Value;
        var secret = o.SigningKey;
        if (string.IsNullOrEmpty(secret))
        {
            if (File.Exists(o.KeyFile)) secret = File.ReadAllText(o.KeyFile).Trim();
            else
            {
                secret = Convert.ToBase64String(RandomNumberGenerator.GetBytes(48));
                Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(o.KeyFile))!);
                File.WriteAllText(o.KeyFile, secret);
            }
        }
        SigningKeyRules.ThrowIfUnusable(string.IsNullOrEmpty(o.SigningKey) ? $"The key in {o.KeyFile}" : "Auth:SigningKey", secret);
        Key = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(secret)) { KeyId = "chatgrains-guest" };
    }

    public SymmetricSecurityKey Key { get; }
}

public static class ClaimsPrincipalExtensions
{
    // The claims that name the user, in order of preference: a guest token's, then the
    // framework's long names an external issuer may use.
    private static readonly string[] IdClaims = [JwtRegisteredClaimNames.Sub, ClaimTypes.NameIdentifier];
    private static readonly string[] NameClaims = ["name", ClaimTypes.Name];

    /// <summary>The signed-in user, as the grain knows them.</summary>
    public static Caller ToCaller(this ClaimsPrincipal user)
    {
        var id = First(user, IdClaims)
            ?? throw new ApiProblem(StatusCodes.Status401Unauthorized, "Unauthorized", "The token names no user.");
        return new Caller(id, First(user, NameClaims) ?? id);
    }

    /// <summary>
    /// The validated user, reduced to the claims <see cref="ToCaller"/> reads and the operator
    /// role claim (<see cref="OperatorOptions.RoleClaim"/>). A watch request holds its principal
    /// for as long as it streams, so every claim kept is paid per open stream: a guest token's
    /// seven claims (with issuer, audience and times, already checked) cost about 1 KB per
    /// watcher that nothing reads.
    /// </summary>
    public static ClaimsPrincipal KeepingCallerClaims(this ClaimsPrincipal user, string roleClaim) =>
        new(user.Identities.Select(i => new ClaimsIdentity(
            i.Claims.Where(c => IdClaims.Contains(c.Type) || NameClaims.Contains(c.Type) || c.Type == roleClaim),
            i.AuthenticationType, i.NameClaimType, i.RoleClaimType)));

    private static string? First(ClaimsPrincipal user, string[] types) =>
        types.Select(user.FindFirstValue).FirstOrDefault(v => v is not null);
}
