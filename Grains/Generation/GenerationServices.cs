using System.ClientModel;
using System.ClientModel.Primitives;
using System.Net;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;
using OllamaSharp;
using OpenAI;
using Polly;

namespace ChatGrains.Generation;

/// <summary>
/// The reply generator and the model behind it, chosen by <c>Generator:Provider</c>. Remote
/// models are reached through one HttpClient: requests that fail before their first token
/// (connection errors, 408, 429, 5xx) are retried with exponential backoff, honouring
/// Retry-After; a response already streaming is never retried, and stopping a reply closes
/// its connection.
/// </summary>
public static class GenerationServices
{
    public const string HttpClientName = "ChatGrains.Generator";

    public static IServiceCollection AddReplyGenerator(this IServiceCollection services, IConfiguration section)
    {
        services.AddOptions<GeneratorOptions>().Bind(section).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<GeneratorOptions>, GeneratorOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);

        services.AddHttpClient(HttpClientName)
            .ConfigurePrimaryHttpMessageHandler(sp => new SocketsHttpHandler
            {
                // One client lives as long as the process; fresh connections every few minutes
                // still follow DNS changes.
                PooledConnectionLifetime = TimeSpan.FromMinutes(5),
                ConnectTimeout = Min(TimeSpan.FromSeconds(10), Options(sp).IdleTimeout),
                // A stopped reply's connection is closed, never drained while the model keeps going.
                MaxResponseDrainSize = 0,
                // No Accept-Encoding: a compressed event stream may be held back to fill a block.
                AutomaticDecompression = DecompressionMethods.None,
            })
            .SetHandlerLifetime(Timeout.InfiniteTimeSpan)
            // Timeouts are the generator's idle timeout, which knows whether tokens are flowing.
            .ConfigureHttpClient(client => client.Timeout = Timeout.InfiniteTimeSpan)
            // The factory's request logging is left out: the generator logs what happened without
            // addresses or headers, so a key can never reach a log line through it.
            .RemoveAllLoggers()
            .AddHttpMessageHandler(() => new StreamAbortHandler())
            .AddResilienceHandler("retry", (pipeline, context) =>
            {
                var options = Options(context.ServiceProvider);
                if (options.MaxRetries > 0) pipeline.AddRetry(RetryOptions(options));
            });

        services.AddSingleton<IChatClient>(sp => CreateChatClient(sp, Options(sp)));
        services.AddSingleton<ReplyGenerator>();
        return services;
    }

    /// <summary>
    /// The retry before the first token. A 429 whose Retry-After is longer than the idle
    /// timeout is not retried: the reply would time out waiting, so it fails at once and says why.
    /// </summary>
    private static HttpRetryStrategyOptions RetryOptions(GeneratorOptions options) => new()
    {
        MaxRetryAttempts = options.MaxRetries,
        Delay = options.RetryDelay,
        BackoffType = DelayBackoffType.Exponential,
        UseJitter = true,
        ShouldRetryAfterHeader = true,
        ShouldHandle = args => ValueTask.FromResult(
            HttpClientResiliencePredicates.IsTransient(args.Outcome)
            && !(args.Outcome.Result is { } response && RetryAfter(response) > options.IdleTimeout)),
    };

    private static TimeSpan? RetryAfter(HttpResponseMessage response) => response.Headers.RetryAfter switch
    {
        { Delta: { } delta } => delta,
        { Date: { } date } => date - DateTimeOffset.UtcNow,
        _ => null,
    };

    private static IChatClient CreateChatClient(IServiceProvider services, GeneratorOptions options)
    {
        if (!options.IsRemote) return ActivatorUtilities.CreateInstance<EmbeddedChatClient>(services);

        var http = services.GetRequiredService<IHttpClientFactory>().CreateClient(HttpClientName);
        var endpoint = new Uri(options.Endpoint!.Trim());
        var model = options.Model!.Trim();
        if (options.Uses(GeneratorOptions.Ollama))
        {
            // OllamaSharp asks for "api/chat" relative to the base address, which must end in '/'.
            http.BaseAddress = endpoint.AbsoluteUri.EndsWith('/') ? endpoint : new Uri(endpoint.AbsoluteUri + "/");
            if (!string.IsNullOrEmpty(options.ApiKey))
                http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", options.ApiKey);
            return new AuthorLabelChatClient(new OllamaApiClient(http, model));
        }

        var clientOptions = new OpenAIClientOptions
        {
            Endpoint = endpoint,
            Transport = new HttpClientPipelineTransport(http),
            // One retry layer only: the HttpClient's, which also covers Ollama.
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
            NetworkTimeout = Timeout.InfiniteTimeSpan,
        };
        // A local server without keys still gets a bearer token: the SDK requires one.
        var key = new ApiKeyCredential(string.IsNullOrEmpty(options.ApiKey) ? "no-key" : options.ApiKey);
        return new AuthorLabelChatClient(new OpenAI.Chat.ChatClient(model, key, clientOptions).AsIChatClient());
    }

    private static GeneratorOptions Options(IServiceProvider services) => services.GetRequiredService<IOptions<GeneratorOptions>>().Value;

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
}
