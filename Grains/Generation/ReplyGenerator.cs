using System.Text;
using System.Diagnostics;
using ChatGrains.Conversation;
using ChatGrains.Telemetry;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ChatGrains.Generation;

/// <summary>
/// Runs one reply: shows the model the conversation so far (<see cref="ChatContext"/>), streams
/// its answer through <see cref="IChatClient"/> into a <see cref="ReplyBuffer"/>, and records how
/// it ended and what it cost. It never throws: every ending is an outcome the grain publishes.
/// A model that stays silent for <see cref="GeneratorOptions.IdleTimeout"/> — before its first
/// token or between two — is cut off, so a reply never hangs; text already streamed is kept.
/// </summary>
/// <remarks>Without <paramref name="telemetry"/> (a generator built alone, in tests) nothing is measured.</remarks>
public sealed partial class ReplyGenerator(IChatClient chatClient, IOptions<GeneratorOptions> options, ILogger<ReplyGenerator> logger,
    ConversationTelemetry? telemetry = null)
{
    private readonly GeneratorOptions _options = options.Value;
    private readonly ChatContext _context = new(options.Value.SystemPrompt, options.Value.MaxContextTokens);
    private readonly ModelFailure _failure = new(options.Value);

    /// <summary>
    /// Answers the last prompt of <paramref name="history"/> (the path from the first prompt to
    /// it). <paramref name="sibling"/> counts the replies to that prompt before this one; a model
    /// that is deterministic for a prompt (the embedded one) reads it as
    /// <see cref="EmbeddedChatClient.SiblingProperty"/> to answer a regenerate differently.
    /// </summary>
    public async Task RunAsync(IReadOnlyList<Message> history, ReplyBuffer buffer, CancellationToken cancellationToken, int sibling = 0)
    {
        var text = new StringBuilder();
        var started = false;
        var finished = false;
        UsageDetails? reported = null;
        ChatWindow? window = null;
        // Cancelled by the caller (stop) or by silence; updates push the deadline back. Moving a
        // timer takes a process-wide lock, and at thousands of replies a second of 50 tokens
        // each that lock was contended: the deadline is moved only when it has come a slack
        // closer, so a reply is cut off after IdleTimeout of silence, at most the slack later.
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var slack = Math.Min((long)_options.IdleTimeout.TotalMilliseconds / 10, 1000);
        var armedAt = long.MinValue / 2;
        try
        {
            window = _context.Build(history);
            if (window.Omitted > 0) LogTrimmed(window.Omitted, window.Tokens);
            // Before the first token the deadline is exact; the first update always moves it.
            idle.CancelAfter(_options.IdleTimeout);
            // Only a regenerate carries options: a first answer's request is as it always was.
            var chatOptions = sibling > 0 ? new ChatOptions { AdditionalProperties = new() { [EmbeddedChatClient.SiblingProperty] = sibling } } : null;
            var requested = Stopwatch.GetTimestamp();
            await foreach (var update in chatClient.GetStreamingResponseAsync(window.Messages, chatOptions, idle.Token).WithCancellation(idle.Token))
            {
                var now = Environment.TickCount64;
                if (now - armedAt >= slack)
                {
                    idle.CancelAfter(_options.IdleTimeout + TimeSpan.FromMilliseconds(slack));
                    armedAt = now;
                }
                started = true;
                // A finish reason, or the usage a provider reports once it is done, marks a whole
                // answer; a stream that ends without either was cut off.
                finished |= update.FinishReason is not null;
                foreach (var usage in update.Contents.OfType<UsageContent>())
                {
                    reported = usage.Details;
                    finished = true;
                }
                var piece = update.Text;
                if (piece.Length == 0) continue;
                if (text.Length == 0) telemetry?.FirstToken(Stopwatch.GetElapsedTime(requested));
                buffer.Append(piece);
                text.Append(piece);
            }

            // Some clients end the stream quietly on cancellation instead of throwing.
            if (cancellationToken.IsCancellationRequested) End(buffer, ReplyOutcome.Cancelled, text, reported, window, started);
            else if (idle.IsCancellationRequested) Fail(buffer, started ? _failure.IdleMidReply() : _failure.IdleBeforeFirstToken(), text, reported, window, started, null);
            else if (!finished) Fail(buffer, ModelFailure.EndedEarly(), text, reported, window, started, null);
            else End(buffer, ReplyOutcome.Completed, text, reported, window, started);
        }
        catch (Exception) when (cancellationToken.IsCancellationRequested)
        {
            End(buffer, ReplyOutcome.Cancelled, text, reported, window, started);
        }
        catch (Exception ex) when (idle.IsCancellationRequested)
        {
            Fail(buffer, started ? _failure.IdleMidReply() : _failure.IdleBeforeFirstToken(), text, reported, window, started, ex);
        }
        catch (Exception ex)
        {
            Fail(buffer, _failure.Describe(ex, midReply: started), text, reported, window, started, ex);
        }
    }

    /// <summary>
    /// What a reply whose generation was lost (its silo died, its activation left mid-reply) cost,
    /// counted with o200k: the window the model was shown for <paramref name="history"/> and the
    /// text it had streamed.
    /// </summary>
    public Usage CountUsage(IReadOnlyList<Message> history, string streamed) => new(_context.Build(history).Tokens, TokenCounter.Count(streamed));

    private void Fail(ReplyBuffer buffer, string error, StringBuilder text, UsageDetails? reported, ChatWindow? window, bool started, Exception? ex)
    {
        // The exception itself is not logged: its message may quote a server's answer, which
        // can echo request details. Its type is enough to tell the cases apart.
        LogFailed(error, ex?.GetType().Name ?? "none");
        End(buffer, new ReplyOutcome(MessageStatus.Failed, error), text, reported, window, started);
    }

    /// <summary>
    /// Completes the reply with its usage: the provider's figures where it gave them, else
    /// counted. A request that never got an answer cost nothing that can be known, so it has none.
    /// </summary>
    private static void End(ReplyBuffer buffer, ReplyOutcome outcome, StringBuilder text, UsageDetails? reported, ChatWindow? window, bool started)
    {
        Usage? usage = null;
        if (started && window is not null)
        {
            usage = new Usage(
                ToInt(reported?.InputTokenCount) ?? window.Tokens,
                ToInt(reported?.OutputTokenCount) ?? TokenCounter.Count(text.ToString()));
        }
        buffer.Complete(outcome with { Usage = usage });
    }

    private static int? ToInt(long? count) => count is { } c ? (int)Math.Clamp(c, 0, int.MaxValue) : null;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reply failed: {Error} ({ExceptionType})")]
    private partial void LogFailed(string error, string exceptionType);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Left the {Omitted} oldest messages out of the model's context; sending {Tokens} tokens")]
    private partial void LogTrimmed(int omitted, int tokens);
}
