using Orleans.Runtime;

namespace ChatGrains.Api.Feeds;

/// <summary>
/// A numbered event log that a host can feed to its watchers: the Orleans stream its events
/// travel on, and the grain that holds the log (see <see cref="IEventLog"/>). <see cref="Key"/>
/// names it among this host's feeds.
/// </summary>
public sealed class FeedSource
{
    private readonly string? _userId;

    private FeedSource(string key, StreamId stream, string? conversationId, string? userId)
    {
        Key = key;
        Stream = stream;
        ConversationId = conversationId;
        _userId = userId;
    }

    public string Key { get; }

    /// <summary>The conversation, when this is one's log: its watch streams count as online in it and carry presence and typing.</summary>
    public string? ConversationId { get; }

    public StreamId Stream { get; }

    public IEventLog Log(IGrainFactory grains) =>
        ConversationId is { } conversationId ? grains.GetGrain<IConversationGrain>(conversationId) : grains.GetGrain<IUserGrain>(_userId!);

    public static FeedSource Conversation(string conversationId) =>
        new($"conversation/{conversationId}", ConversationStreams.For(conversationId), conversationId, null);

    /// <summary>A user's own log: their list's changes, from their user grain.</summary>
    public static FeedSource User(string userId) =>
        new($"user/{userId}", UserStreams.For(userId), null, userId);

    public override string ToString() => Key;
}
