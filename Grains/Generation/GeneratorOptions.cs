namespace ChatGrains.Generation;

/// <summary>
/// Which reply generator answers chat messages, bound from the "Generator" configuration section.
/// The default, "Embedded", needs no network and no key; the other settings only matter for a
/// remote model provider.
/// </summary>
public sealed class GeneratorOptions
{
    public const string SectionName = "Generator";

    /// <summary>"Embedded" for the built-in offline generator, or the name of a remote provider.</summary>
    public string Provider { get; set; } = "Embedded";

    /// <summary>The remote provider's base address. Unused by the embedded generator.</summary>
    public string? Endpoint { get; set; }

    /// <summary>The remote model to ask. Unused by the embedded generator.</summary>
    public string? Model { get; set; }

    /// <summary>The remote provider's key. Unused by the embedded generator.</summary>
    public string? ApiKey { get; set; }

    /// <summary>
    /// How fast the embedded generator streams its reply. Zero or less streams as fast as possible.
    /// </summary>
    public double TokensPerSecond { get; set; } = 50;
}
