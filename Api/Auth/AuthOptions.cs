namespace ChatGrains.Api.Auth;

public sealed class AuthOptions
{
    public const string SectionName = "Auth";

    /// <summary>Whether <c>POST /api/auth/guest</c> issues tokens. Turn off to accept only an external issuer's JWTs.</summary>
    public bool GuestSignIn { get; set; } = true;

    /// <summary>
    /// The key guest tokens are signed with (at least 32 UTF-8 bytes, never a key published in
    /// the repository: see <see cref="SigningKeyRules"/>). Every API host of a cluster must share
    /// it. When unset, one is generated once and kept in <see cref="KeyFile"/>.
    /// </summary>
    public string? SigningKey { get; set; }

    /// <summary>Where a generated signing key is kept, beside the data.</summary>
    public string KeyFile { get; set; } = "data/signing-key";

    /// <summary>The <c>iss</c> of guest tokens. Only tokens signed with <see cref="SigningKey"/> may carry it.</summary>
    public string Issuer { get; set; } = "chatgrains";

    /// <summary>The <c>aud</c> of guest tokens, and the audience every accepted token must name.</summary>
    public string Audience { get; set; } = "chatgrains";

    /// <summary>How long a guest token is valid: a guest signs in again after a day.</summary>
    public TimeSpan GuestTokenLifetime { get; set; } = TimeSpan.FromHours(24);
}
