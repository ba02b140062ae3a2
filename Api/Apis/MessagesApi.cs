using System.Text;
using ChatGrains.Api.Auth;
using ChatGrains.Api.EventStream;
using ChatGrains.Api.Feeds;
using ChatGrains.Api.OpenApi;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace ChatGrains.Api.Apis;

/// <summary>Posting prompts and regenerating replies (answered as a POST-initiated event stream), and stopping replies.</summary>
public static class MessagesApi
{
    public const int MaxIdempotencyKeyLength = 128;

    public static IEndpointRouteBuilder MapMessagesApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/conversations/{id}/messages").RequireAuthorization().ConversationRoute().WithTags("Messages");
        api.MapPost("/", Post).RequireRateLimiting(RateLimits.Prompts).TakesBody<PromptBody>().StartsAnExchange()
            .ProducesEventStream("The exchange's events, from the prompt's `message.created` through its reply's `message.completed` (or from `Last-Event-ID`, if later); then the stream ends.", StreamEvents.Exchange)
            .Refuses(400, 404, 413, 422, 429);
        api.MapPost("/{messageId}/regenerate", Regenerate).RequireRateLimiting(RateLimits.Prompts).StartsAnExchange()
            .ProducesEventStream("The new reply's events, from its `message.created` through its `message.completed`; then the stream ends.", StreamEvents.Exchange)
            .Refuses(400, 404, 409, 422, 429);
        api.MapPost("/{messageId}/cancel", Cancel).Refuses(404, 409);
        api.MapGet("/", Page).Paged(before: true).Refuses(400, 404);
        return app;
    }

    /// <summary>
    /// A page of the history: the <c>?limit=</c> messages before <c>?before=</c> (an unknown one is
    /// 404), or the latest without it, in event order; <c>hasMore</c> when older ones exist.
    /// </summary>
    private static async Task<Ok<MessagePage>> Page(string id, HttpContext http, IGrainFactory grains)
    {
        var (grain, userId) = (grains.GetGrain<IConversationGrain>(id), http.User.ToCaller().UserId);
        var limit = await PageQuery.LimitAsync(http.Request, grain, userId);
        return TypedResults.Ok(await grain.GetMessagesAsync(userId, PageQuery.Before(http.Request), limit));
    }

    /// <summary>
    /// Posts a prompt, or resumes the exchange a repeated Idempotency-Key names, and streams
    /// its events until the reply completes (or answers 202 for Accept: application/json).
    /// </summary>
    private static async Task<Results<EventStreamResult, Accepted<PostAccepted>>> Post(
        string id, PromptBody body, HttpContext http, IGrainFactory grains, IOptions<MessageLimits> limits)
    {
        var request = http.Request;
        var key = IdempotencyKey(request);
        var resumeFrom = ResumePoint.From(request);
        var content = body.Content;
        if (Encoding.UTF8.GetByteCount(content) > limits.Value.MaxContentBytes)
            throw new ApiProblem(StatusCodes.Status413PayloadTooLarge, "Message too large", $"'content' must be at most {limits.Value.MaxContentBytes} bytes of UTF-8.");

        var receipt = await grains.GetGrain<IConversationGrain>(id).PostAsync(http.User.ToCaller(), content, key, body.Parent());
        if (WantsJson(request))
            return TypedResults.Accepted((string?)null, new PostAccepted(receipt.UserMessageId, receipt.AssistantMessageId, receipt.EventId));
        return ExchangeStream(id, http, receipt, resumeFrom);
    }

    /// <summary>
    /// Queues a new reply beside a final one (same prompt), or resumes the exchange a repeated
    /// Idempotency-Key names, and streams it as posting does (or answers 202 for Accept: application/json).
    /// </summary>
    private static async Task<Results<EventStreamResult, Accepted<RegenerateAccepted>>> Regenerate(
        string id, string messageId, HttpContext http, IGrainFactory grains)
    {
        var key = IdempotencyKey(http.Request);
        var resumeFrom = ResumePoint.From(http.Request);
        var receipt = await grains.GetGrain<IConversationGrain>(id).RegenerateAsync(http.User.ToCaller(), messageId, key);
        if (WantsJson(http.Request))
            return TypedResults.Accepted((string?)null, new RegenerateAccepted(receipt.AssistantMessageId, receipt.EventId));
        return ExchangeStream(id, http, receipt, resumeFrom);
    }

    /// <summary>
    /// The exchange's events, from its first <c>message.created</c> (or the resume point, if later)
    /// through its reply's <c>message.completed</c>.
    /// </summary>
    private static EventStreamResult ExchangeStream(string id, HttpContext http, PostReceipt receipt, long? resumeFrom)
    {
        http.RequestServices.GetRequiredService<FeedHub>().Find(FeedSource.Conversation(id))?.Expect(receipt.EventId + 1);
        var exchangeStart = receipt.EventId - 1;
        var after = Math.Max(resumeFrom ?? exchangeStart, exchangeStart);
        // A resume point the log has not reached is the stream's to answer (with reset), not ended here.
        return receipt.CompletedEventId > 0 && after >= receipt.CompletedEventId && after <= receipt.LastEventId
            ? EventStreamResult.Empty()
            : EventStreamResult.UntilReplyCompletes(FeedSource.Conversation(id), after, receipt.LastEventId, receipt.AssistantMessageId, http.User.ToCaller().UserId);
    }

    private static async Task<Accepted> Cancel(string id, string messageId, HttpContext http, IGrainFactory grains)
    {
        await grains.GetGrain<IConversationGrain>(id).CancelAsync(http.User.ToCaller().UserId, messageId);
        return TypedResults.Accepted((string?)null);
    }

    private static string? IdempotencyKey(HttpRequest request)
    {
        if (!request.Headers.TryGetValue("Idempotency-Key", out var values)) return null;
        var key = values.ToString();
        if (key.Length is 0 or > MaxIdempotencyKeyLength)
            throw new ApiProblem(StatusCodes.Status400BadRequest, "Invalid Idempotency-Key", $"Idempotency-Key must be 1 to {MaxIdempotencyKeyLength} characters.");
        return key;
    }

    /// <summary>Only an explicit application/json (and no text/event-stream) gets the 202; anything else gets the stream.</summary>
    private static bool WantsJson(HttpRequest request)
    {
        var accept = request.GetTypedHeaders().Accept;
        return accept.Any(a => a.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase))
            && !accept.Any(a => a.MediaType.Equals("text/event-stream", StringComparison.OrdinalIgnoreCase));
    }

    public sealed record PostAccepted(string UserMessageId, string AssistantMessageId, long EventId);

    public sealed record RegenerateAccepted(string AssistantMessageId, long EventId);
}

public sealed class MessageLimits
{
    public const string SectionName = "Limits";

    /// <summary>The largest prompt accepted, in UTF-8 bytes.</summary>
    public int MaxContentBytes { get; set; } = 32 * 1024;
}
