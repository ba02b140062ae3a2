using System.Text;

namespace ChatGrains.Api.Auth;

/// <summary>
/// What makes a configured key (the guest signing key, the operator key) unusable: too short
/// to resist guessing, or public. Anyone can read this repository, so a key that ever appeared
/// in it (a compose default, a test or script value) forges tokens for every deployment that
/// kept it; such keys are refused whatever the mode.
/// </summary>
public static class SigningKeyRules
{
    public const int MinimumBytes = 32;

    /// <summary>
    /// Every key that was ever committed to this repository, its history included
    /// (<c>git log -p -S &lt;key&gt;</c>). Add any key that is committed by mistake.
    /// </summary>
    public static readonly IReadOnlySet<string> PublishedKeys = new HashSet<string>(StringComparer.Ordinal)
    {
        // docker-compose.yml's development default until the compose file required a key.
        "local-dev-only-signing-key-change-me-0123456789",
    };

    /// <summary>Why <paramref name="key"/> cannot be used for <paramref name="setting"/>, or null when it can.</summary>
    public static string? Problem(string setting, string key)
    {
        if (Encoding.UTF8.GetByteCount(key) < MinimumBytes)
            return $"{setting} must be at least {MinimumBytes} bytes (UTF-8); generate one with `openssl rand -base64 48`.";
        if (PublishedKeys.Contains(key.Trim()))
            return $"{setting} is a key published in the ChatGrains repository, so anyone could forge tokens with it; generate one with `openssl rand -base64 48`.";
        return null;
    }

    /// <summary>Throws at start-up when a configured key cannot be used.</summary>
    public static void ThrowIfUnusable(string setting, string? key)
    {
        if (string.IsNullOrEmpty(key)) return;
        if (Problem(setting, key) is { } problem) throw new InvalidOperationException(problem);
    }
}
