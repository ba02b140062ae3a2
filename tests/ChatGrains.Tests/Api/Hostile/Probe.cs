using System.Text;

namespace ChatGrains.Tests.Api.Hostile;

public enum Route { SignIn, CreateConversation, ListConversations, Conversation, Messages, Invite, Join, PostMessage, Cancel, Watch, NoSuchRoute }

/// <summary>What the contract says of a request: it must be served, it must be refused, or either is right.</summary>
public enum Verdict { Accepted, Either, Refused }

/// <summary>A piece of a request (an identity, a header, a body) and what the contract says of it.</summary>
public sealed record Part<T>(T Value, Verdict Verdict, string Label)
{
    public override string ToString() => Label;
}

public sealed record Header(string Name, string Value);

/// <summary>What a request does when the service accepts it, for the model of the conversations.</summary>
public abstract record Intent;

/// <summary>A prompt: a new exchange, or, for a repeated Idempotency-Key, a resume of the earlier one. Null content: the test cannot tell what the service stores.</summary>
public sealed record PostsMessage(string ConversationId, ApiUser Author, string? Content, string? Key) : Intent
{
    public override string ToString() => $"PostsMessage({Author.Name}, key {Key ?? "none"})";
}

public sealed record CreatesConversation(ApiUser Owner) : Intent
{
    public override string ToString() => $"CreatesConversation({Owner.Name})";
}

/// <summary>Cancels the latest reply the run has seen in the conversation, whichever it is when the probe is sent.</summary>
public sealed record CancelsLatestReply(string ConversationId) : Intent;

/// <summary>One generated request, with what the contract says of it.</summary>
public sealed record Probe(
    Route Route,
    string Method,
    string Target,
    IReadOnlyList<Header> Headers,
    byte[]? Body,
    bool ChunkedBody,
    Verdict Verdict,
    Intent? Intent,
    string Label)
{
    public const string LatestReply = "{latest-reply}";

    /// <summary>HttpClient refuses header bytes outside visible ASCII; those requests (and chunked uploads of megabytes) go over a plain socket.</summary>
    public bool NeedsRawSocket => ChunkedBody || Headers.Any(h => h.Value.Any(c => c is < ' ' or > '~'));

    /// <summary>
    /// A request that is not valid HTTP/1.1 (control characters or undecodable bytes in a header) or
    /// is over Kestrel's limits (32 KB of headers, 100 headers, an 8 KB request line), or whose
    /// path decodes to a NUL. Kestrel's parser refuses those before any middleware runs, with its
    /// own empty-bodied 4xx.
    /// </summary>
    public bool MayBeRefusedByKestrel =>
        Headers.Any(h => h.Value.Any(c => c is < ' ' and not '\t' or '\x7f' or > '~'))
        || Headers.Sum(h => h.Name.Length + h.Value.Length + 4) > 30 * 1024
        || Headers.Count > 90
        || Target.Length > 8 * 1024
        || Target.Contains("%00", StringComparison.Ordinal);

    public override string ToString()
    {
        var text = new StringBuilder($"{Method} {Shorten(Target)} [{Label}] expect {Verdict}");
        foreach (var h in Headers) text.Append($"\n  {h.Name}: {Shorten(h.Value)}");
        if (Body is not null) text.Append($"\n  body ({Body.Length} bytes{(ChunkedBody ? ", chunked" : "")}): {Shorten(Encoding.UTF8.GetString(Body))}");
        return text.ToString();
    }

    private static string Shorten(string s)
    {
        var visible = string.Concat(s.Take(160).Select(c => c is < ' ' or '\x7f' ? $"\\x{(int)c:x2}" : c.ToString()));
        return s.Length > 160 ? $"{visible}… ({s.Length} chars)" : visible;
    }
}
