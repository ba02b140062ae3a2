using Microsoft.Extensions.Options;

namespace ChatGrains.Generation;

/// <summary>
/// Checks the Generator settings at start-up, so a typo stops the process with a message that
/// names the setting instead of failing every reply later. Never echoes the API key.
/// </summary>
public sealed class GeneratorOptionsValidator : IValidateOptions<GeneratorOptions>
{
    private static readonly string[] Providers = [GeneratorOptions.Embedded, GeneratorOptions.OpenAI, GeneratorOptions.Ollama];

    public ValidateOptionsResult Validate(string? name, GeneratorOptions options)
    {
        var errors = new List<string>();
        var provider = Providers.FirstOrDefault(p => p.Equals(options.Provider?.Trim(), StringComparison.OrdinalIgnoreCase));
        if (provider is null)
        {
            errors.Add($"Generator:Provider '{options.Provider}' is not known: use {string.Join(", ", Providers)}.");
        }
        else if (provider != GeneratorOptions.Embedded)
        {
            if (string.IsNullOrWhiteSpace(options.Endpoint))
            {
                var example = provider == GeneratorOptions.Ollama ? "http://localhost:11434" : "https://api.openai.com/v1";
                errors.Add($"Generator:Endpoint is required for provider {provider}: the model server's base address, e.g. {example}.");
            }
            else if (!IsHttpUrl(options.Endpoint))
            {
                errors.Add("Generator:Endpoint must be an absolute http:// or https:// URL without credentials or query"
                    + $" (got '{Shown(options.Endpoint)}').");
            }
            if (string.IsNullOrWhiteSpace(options.Model))
            {
                errors.Add($"Generator:Model is required for provider {provider}: the name of the model to ask.");
            }
        }

        if (options.MaxContextTokens < 1) errors.Add("Generator:MaxContextTokens must be positive.");
        if (options.IdleTimeout <= TimeSpan.Zero) errors.Add("Generator:IdleTimeout must be positive.");
        if (options.MaxRetries is < 0 or > 10) errors.Add("Generator:MaxRetries must be between 0 and 10.");
        if (options.RetryDelay < TimeSpan.Zero || options.RetryDelay > TimeSpan.FromMinutes(1))
            errors.Add("Generator:RetryDelay must be between 0 and 1 minute.");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    // User info and a query are refused: they are where keys hide, and they would be shown here.
    private static bool IsHttpUrl(string text) =>
        Uri.TryCreate(text.Trim(), UriKind.Absolute, out var uri)
        && uri.Scheme is "http" or "https"
        && uri.UserInfo.Length == 0
        && uri.Query.Length == 0;

    // The endpoint is echoed only when it cannot carry a secret.
    private static string Shown(string endpoint) =>
        endpoint.Contains('@') || endpoint.Contains('?') ? "(hidden: it may contain a secret)" : endpoint;
}
