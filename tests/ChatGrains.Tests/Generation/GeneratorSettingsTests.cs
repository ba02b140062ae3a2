using ChatGrains.Conversation;
using ChatGrains.Generation;
using ChatGrains.Tests.Generation.Fakes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using static ChatGrains.Tests.Generation.Fakes.GeneratorHarness;

namespace ChatGrains.Tests.Generation;

/// <summary>Generator settings are checked at start, and the embedded default keeps its promise.</summary>
[Trait("Category", TestCategory.Unit)]
public sealed class GeneratorSettingsTests
{
    [Theory]
    [InlineData("Gpt", null, null, "Generator:Provider 'Gpt' is not known: use Embedded, OpenAI, Ollama.")]
    [InlineData("OpenAI", null, "gpt-4o-mini", "Generator:Endpoint is required for provider OpenAI")]
    [InlineData("ollama", "localhost:11434", "llama3.2", "Generator:Endpoint must be an absolute http:// or https:// URL")]
    [InlineData("OpenAI", "ftp://example.com/v1", "gpt-4o-mini", "Generator:Endpoint must be an absolute http:// or https:// URL")]
    [InlineData("Ollama", "http://localhost:11434", " ", "Generator:Model is required for provider Ollama")]
    public async Task Invalid_settings_stop_the_host_at_start_with_a_message_naming_the_setting(string provider, string? endpoint, string? model, string message)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Generator:Provider"] = provider,
            ["Generator:Endpoint"] = endpoint,
            ["Generator:Model"] = model,
        });
        builder.Services.AddReplyGenerator(builder.Configuration.GetSection("Generator"));
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void An_endpoint_with_credentials_in_it_is_refused_without_being_shown()
    {
        var result = new GeneratorOptionsValidator().Validate(null, new GeneratorOptions
        {
            Provider = "OpenAI",
            Endpoint = "https://user:sk-secret@example.com/v1",
            Model = "m",
            ApiKey = "sk-secret",
        });

        Assert.True(result.Failed);
        Assert.DoesNotContain("sk-secret", result.FailureMessage);
    }

    [Fact]
    public void The_default_is_the_embedded_generator_and_needs_no_other_setting()
    {
        Assert.True(new GeneratorOptionsValidator().Validate(null, new GeneratorOptions()).Succeeded);
    }

    [Fact]
    public async Task The_embedded_generator_still_answers_the_same_prompt_with_the_same_reply()
    {
        await using var harness = new GeneratorHarness(new Dictionary<string, string?> { ["Generator:TokensPerSecond"] = "0" });
        var history = new[] { Prompt("Ada", "Earlier"), Reply("Earlier answer"), Prompt("Bob", "How do grains talk?") };

        var (text, outcome) = await harness.ReplyAsync(history);
        var (again, _) = await harness.ReplyAsync([Prompt("Carol", "How do grains talk?")]);

        Assert.Equal(EmbeddedChatClient.ComposeReply("How do grains talk?"), text);
        Assert.Equal(text, again);
        Assert.Equal(MessageStatus.Complete, outcome.Status);
        Assert.True(outcome.Usage!.CompletionTokens >= 100);
        Assert.True(outcome.Usage.PromptTokens > 0);
    }
}
