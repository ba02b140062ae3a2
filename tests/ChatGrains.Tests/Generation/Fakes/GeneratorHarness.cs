using ChatGrains.Conversation;
using ChatGrains.Generation;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ChatGrains.Tests.Generation.Fakes;

/// <summary>
/// The reply generator as the silo builds it (<see cref="GenerationServices.AddReplyGenerator"/>)
/// from Generator settings, with every log line captured, run without a cluster.
/// </summary>
public sealed class GeneratorHarness : IAsyncDisposable
{
    private static readonly DateTimeOffset T0 = new(2025, 3, 1, 12, 0, 0, TimeSpan.Zero);
    private readonly ServiceProvider _services;

    public GeneratorHarness(IDictionary<string, string?> settings)
    {
        var defaults = new Dictionary<string, string?>
        {
            ["Generator:Model"] = "fake-model",
            ["Generator:RetryDelay"] = "00:00:00.050",
            ["Generator:IdleTimeout"] = "00:00:30", // the default; tests of the timeout set their own
        };
        foreach (var (key, value) in settings) defaults[key] = value;
        var config = new ConfigurationBuilder().AddInMemoryCollection(defaults).Build();
        var services = new ServiceCollection();
        services.AddLogging(logging => logging.SetMinimumLevel(LogLevel.Trace).AddProvider(Logs));
        services.AddReplyGenerator(config.GetSection("Generator"));
        _services = services.BuildServiceProvider(validateScopes: true);
        Generator = _services.GetRequiredService<ReplyGenerator>();
    }

    public CapturedLogs Logs { get; } = new();

    public ReplyGenerator Generator { get; }

    public Microsoft.Extensions.AI.IChatClient ChatClient => _services.GetRequiredService<Microsoft.Extensions.AI.IChatClient>();

    public static GeneratorHarness OpenAI(FakeOpenAiServer server, params (string Key, string Value)[] settings) =>
        new(Settings(settings, ("Generator:Provider", "OpenAI"), ("Generator:Endpoint", server.Endpoint)));

    public static GeneratorHarness Ollama(FakeOllamaServer server, params (string Key, string Value)[] settings) =>
        new(Settings(settings, ("Generator:Provider", "Ollama"), ("Generator:Endpoint", server.Endpoint)));

    /// <summary>Generates the reply to <paramref name="history"/>: all the text it streamed, and how it ended.</summary>
    public async Task<(string Text, ReplyOutcome Outcome)> ReplyAsync(IReadOnlyList<Message> history, ReplyBuffer? buffer = null, CancellationToken cancellationToken = default)
    {
        buffer ??= new ReplyBuffer();
        await Generator.RunAsync(history, buffer, cancellationToken);
        var (text, outcome) = buffer.Take();
        return (text, outcome!);
    }

    public static Message Prompt(string author, string content, int minute = 0) =>
        new(Guid.NewGuid().ToString("N"), Roles.User, author.ToLowerInvariant(), author, content, MessageStatus.Complete, null, T0.AddMinutes(minute));

    public static Message Reply(string content, string status = MessageStatus.Complete, int minute = 0) =>
        new(Guid.NewGuid().ToString("N"), Roles.Assistant, "assistant", "Assistant", content, status, "p", T0.AddMinutes(minute));

    public ValueTask DisposeAsync() => _services.DisposeAsync();

    private static Dictionary<string, string?> Settings((string Key, string Value)[] overrides, params (string Key, string Value)[] basics)
    {
        var settings = new Dictionary<string, string?>();
        foreach (var (key, value) in basics.Concat(overrides)) settings[key] = value;
        return settings;
    }
}
