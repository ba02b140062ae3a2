namespace ChatGrains.Generation;

/// <summary>
/// Which reply generator answers chat messages, bound from the "Generator" configuration section.
/// The default, "Embedded", needs no network and no key; Endpoint, Model and ApiKey only matter
/// for a remote model provider. <see cref="GeneratorOptionsValidator"/> checks them at start.
/// </summary>
public sealed class GeneratorOptions
{
    public const string SectionName = "Generator";

    public const string Embedded = "Embedded";
    /// <summary>Any OpenAI-compatible chat completions endpoint: OpenAI, vLLM, llama.cpp server, LM Studio.</summary>
    public const string OpenAI = "OpenAI";
    public const string Ollama = "Ollama";

    public const string DefaultSystemPrompt =
        "You are a helpful assistant in a chat that several people can share. Each person's message "
        + "starts with their name in square brackets, like [Ada]; answer the latest message, address "
        + "people by name when that helps, and do not start your own replies with a name in brackets.";

    /// <summary>"Embedded" for the built-in offline generator, "OpenAI" or "Ollama".</summary>
    public string Provider { get; set; } = Embedded;

    /// <summary>The remote provider's base address (e.g. https://api.openai.com/v1, http://localhost:11434).</summary>
    public string? Endpoint { get; set; }

    /// <summary>The remote model to ask.</summary>
    public string? Model { get; set; }

    /// <summary>The remote provider's key, sent as a bearer token. Never logged or shown in errors.</summary>
    public string? ApiKey { get; set; }

    /// <summary>
    /// How fast the embedded generator streams its reply. Zero or less streams as fast as possible.
    /// </summary>
    public double TokensPerSecond { get; set; } = 50;

    /// <summary>The system message every request starts with (empty: none).</summary>
    public string SystemPrompt { get; set; } = DefaultSystemPrompt;

    /// <summary>
    /// The most o200k tokens of system prompt and history sent with a request; the oldest messages
    /// are left out to stay within it. Leave room for the reply in the model's context window.
    /// </summary>
    public int MaxContextTokens { get; set; } = 8000;

    /// <summary>How long the model may stay silent, before its first token or between two, before the reply fails.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Retries of a request that failed before its first token (connection error, 408, 429, 5xx).</summary>
    public int MaxRetries { get; set; } = 3;

    /// <summary>The first retry's delay; each next one doubles it (with jitter). A Retry-After header wins.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(1);

    public bool IsRemote => !Uses(Embedded);

    /// <summary>Whether <see cref="Provider"/> names this provider (any case, surrounding spaces ignored).</summary>
    public bool Uses(string provider) => Provider.Trim().Equals(provider, StringComparison.OrdinalIgnoreCase);
}
