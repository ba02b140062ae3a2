namespace ChatGrains.Api.Auth;

public sealed class AuthOptions
{
    public const string SectionName = "Auth";

    /// <summary>Whether <c>POST /api/auth/guest</c> issues tokens. Turn off to accept only an external issuer's JWTs.</summary>
    public bool GuestSignIn { get; set; } = true;

    /// <summary>
    /// The key guest tokens are signed with (at least 32 characters). Every API host of a
    /// cluster must share it. When unset, one is generated once and kept in <see cref="KeyFile"/>.
    /// </summary>
    public string? SigningKey { get; set; }

    /// <summary>Where a generated signing key is kept, beside the data.</summary>
    public string KeyFile { get; set; } = "data/signing-key";

    public string Issuer { get; set; } = "chatgrains";
    public string Audience { get; set; } = "chatgrains";
    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromDays(30);
}
