using System.Text;
using System.Text.Json;
using CsCheck;
using static ChatGrains.Tests.Api.Hostile.Verdict;

namespace ChatGrains.Tests.Api.Hostile;

/// <summary>
/// Generators of requests on every route of the v1 contract. Each ingredient (who calls, which
/// conversation, the Accept, the body, each header) carries what the contract says of it; a
/// request must be served when every ingredient is valid and refused when one is not. About a
/// quarter of the requests are valid throughout, so the model has real exchanges to account for.
/// </summary>
public sealed class HostileRequests(FuzzWorld world)
{
    private static Part<T> P<T>(T value, Verdict verdict, string label) => new(value, verdict, label);

    private static Verdict Worst(params Verdict[] verdicts) => verdicts.Max();

    /// <summary>Valid parts only, or a mix in which about half the parts break the contract.</summary>
    private static Gen<Part<T>> Mixed<T>(bool hostile, Gen<Part<T>> valid, Gen<Part<T>> bad) =>
        hostile ? Gen.Frequency((1, valid), (1, bad)) : valid;

    public Gen<Probe> Any =>
        Gen.Frequency((3, Requests(hostile: true)), (1, Requests(hostile: false)));

    private Gen<Probe> Requests(bool hostile) => Gen.Frequency(
        (2, SignIn(hostile)),
        (2, CreateConversation(hostile)),
        (1, ListConversations(hostile)),
        (2, GetConversation(hostile)),
        (1, Messages(hostile)),
        (1, Invite(hostile)),
        (1, Join(hostile)),
        (6, PostMessage(hostile)),
        (2, Cancel(hostile)),
        (4, Watch(hostile)),
        (hostile ? 1 : 0, NoSuchRoute()));

    // ----- who calls, and on which conversation -----

    private sealed record Identity(ApiUser? User, string? Authorization);

    private Gen<Part<Identity>> Caller(bool hostile) => Mixed(hostile,
        Gen.OneOf(
            P(new Identity(world.Ada, "Bearer " + world.Ada.Token), Accepted, "Ada"),
            P(new Identity(world.Bob, "Bearer " + world.Bob.Token), Accepted, "Bob"),
            P(new Identity(world.Eve, "Bearer " + world.Eve.Token), Accepted, "Eve"),
            P(new Identity(world.Ada, "bearer " + world.Ada.Token), Accepted, "Ada, lower-case scheme")),
        Gen.OneOf(world.ForgedAuthorizations.Select(f => P(new Identity(null, f.Value), Refused, f.Label)).ToArray()));

    private Gen<Part<string>> ConversationId(bool hostile) => Mixed(hostile,
        Gen.OneOf(P(world.Shared, Accepted, "shared conversation"), P(world.EvesOwn, Accepted, "Eve's conversation")),
        Gen.OneOf(
            P("0123456789abcdef0123456789abcdef", Refused, "unknown id"),
            P("does-not-exist", Refused, "unknown id"),
            P("%00", Refused, "NUL id"),
            P("%FF%FE", Refused, "invalid UTF-8 id"),
            P("%C3%BC%F0%9F%94%91", Refused, "unicode id"),
            P("..%2F..%2Fhealth", Refused, "dot-dot id"),
            P("a%20b%22%3C", Refused, "quoted id"),
            P(new string('x', 3000), Refused, "3,000-char id"),
            P(new string('y', 9000), Refused, "9,000-char id")));

    /// <summary>A caller on a conversation: a valid token of someone who is not a member is refused (404) like a forged one (401).</summary>
    private Gen<Part<(Identity Who, string Conversation)>> Access(bool hostile) =>
        hostile
            ? from who in Caller(true)
              from id in ConversationId(true)
              let member = who.Value.User is { } u && world.IsMember(u, id.Value)
              select P((who.Value, id.Value), member ? Accepted : Refused, $"{who.Label} on {id.Label}")
            : Gen.OneOf(
                P((new Identity(world.Ada, "Bearer " + world.Ada.Token), world.Shared), Accepted, "Ada on the shared conversation"),
                P((new Identity(world.Bob, "Bearer " + world.Bob.Token), world.Shared), Accepted, "Bob on the shared conversation"),
                P((new Identity(world.Eve, "Bearer " + world.Eve.Token), world.EvesOwn), Accepted, "Eve on her conversation"));

    // ----- headers -----

    private static readonly Gen<Part<string?>> Accept = Gen.OneOf(
        P<string?>(null, Accepted, "no Accept"),
        P<string?>("*/*", Accepted, "*/*"),
        P<string?>("text/event-stream", Accepted, "text/event-stream"),
        P<string?>("application/json", Accepted, "application/json"),
        P<string?>("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", Accepted, "a browser's"),
        P<string?>("application/xml", Accepted, "application/xml"),
        P<string?>("image/png", Accepted, "image/png"),
        P<string?>("application/json;q=0", Accepted, "json at q=0"),
        P<string?>("text/event-stream, application/json", Accepted, "both"),
        P<string?>("@@@ ;;; ===", Accepted, "garbage Accept"),
        P<string?>(string.Join(",", Enumerable.Range(0, 600).Select(i => $"type{i}/sub")), Accepted, "600 media types"));

    private static readonly Gen<Part<string?>> ContentType = Gen.OneOf(
        P<string?>("application/json", Accepted, "json"),
        P<string?>(null, Accepted, "no Content-Type"),
        P<string?>("text/plain", Accepted, "text/plain"),
        P<string?>("application/json; charset=utf-16", Accepted, "utf-16 claimed"),
        P<string?>("application/x-www-form-urlencoded", Accepted, "form"),
        P<string?>("multipart/form-data; boundary=zzz", Accepted, "multipart"));

    /// <summary>A header that has nothing to do with the route: harmless, or bytes Kestrel may refuse, or over its limits.</summary>
    private static Gen<Part<Header[]>> Extra(bool hostile) => Mixed(hostile,
        Gen.OneOf(P(Array.Empty<Header>(), Accepted, ""), P(new[] { new Header("X-Forwarded-For", "203.0.113.7, 10.0.0.1") }, Accepted, "X-Forwarded-For")),
        Gen.OneOf(
            P(new[] { new Header("X-Junk", "a\0b") }, Either, "NUL in a header"),
            P(new[] { new Header("X-Junk", "bell\u0007 esc\u001b del\u007f") }, Either, "control characters in a header"),
            P(new[] { new Header("X-Junk", "Zoë ✓ 🔑") }, Either, "UTF-8 in a header"),
            P(new[] { new Header("X-Padding", new string('p', 40_000)) }, Either, "a 40 KB header"),
            P(new[] { new Header("X-Padding", new string('p', 20_000)) }, Accepted, "a 20 KB header"),
            P(Enumerable.Range(0, 120).Select(i => new Header($"X-Many-{i}", "v")).ToArray(), Either, "120 headers")));

    private static readonly Part<string?>[] ValidResumePoints =
    [
        P<string?>(null, Accepted, "no resume point"), P<string?>(null, Accepted, "no resume point"),
        P<string?>("", Accepted, "empty resume point"), P<string?>(" ", Accepted, "blank resume point"),
        P<string?>("0", Accepted, "resume 0"), P<string?>("2", Accepted, "resume 2"), P<string?>(" 3 ", Accepted, "resume ' 3 '"),
        P<string?>("99999999999", Accepted, "resume far ahead"),
    ];

    private static readonly Part<string?>[] BadResumePoints =
    [
        P<string?>("-1", Refused, "resume -1"), P<string?>("1e9", Refused, "resume 1e9"),
        P<string?>("99999999999999999999", Refused, "resume past long"), P<string?>("0x10", Refused, "resume 0x10"),
        P<string?>("1,2", Refused, "resume 1,2"), P<string?>("1.5", Refused, "resume 1.5"), P<string?>("+5", Refused, "resume +5"),
        P<string?>("abc", Refused, "resume abc"), P<string?>("١٢", Refused, "resume in Arabic-Indic digits"),
        P<string?>("7\08", Refused, "resume with NUL"),
    ];

    private static Gen<Part<string?>> ResumePoint(bool hostile) => Mixed(hostile, Gen.OneOf(ValidResumePoints), Gen.OneOf(BadResumePoints));

    private static Gen<Part<string?>> IdempotencyKey(bool hostile) => Mixed(hostile,
        Gen.Frequency(
            (2, Gen.Const(P<string?>(null, Accepted, "no key"))),
            (4, Gen.Int[0, 5].Select(i => P<string?>($"key-{i}", Accepted, $"key-{i}"))),
            (1, Gen.Int[0, 1].Select(i => P<string?>(new string((char)('a' + i), 128), Accepted, "128-char key")))),
        Gen.OneOf(
            P<string?>("", Refused, "empty key"),
            P<string?>(new string('k', 129), Refused, "129-char key"),
            P<string?>(new string('k', 20_000), Refused, "20,000-char key"),
            P<string?>("ключ-🔑", Either, "unicode key"),
            P<string?>("key\u0001ctl", Either, "key with a control character"),
            P<string?>("key\0nul", Either, "key with NUL")));

    // ----- bodies -----

    /// <summary>A body and, when the service must accept it, the field's value as it should store it (null: not knowable).</summary>
    public sealed record Body(byte[]? Bytes, string? Value, bool Chunked = false);

    private static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);

    private static string Json(string field, string value) => JsonSerializer.Serialize(new Dictionary<string, string> { [field] = value });

    /// <summary>Bodies for an endpoint that reads one string field: valid ones from <paramref name="values"/>, and every way to get it wrong.</summary>
    private static Gen<Part<Body>> JsonBody(bool hostile, string field, Gen<string> values, bool optional, int maxChars)
    {
        var optionalOk = optional ? Accepted : Refused;
        var valid = Gen.Frequency(
            (6, values.Select(v => P(new Body(Utf8(Json(field, v)), v), Accepted, "valid body"))),
            (1, values.Select(v => P(new Body(Utf8($"\r\n {{ \"extra\": [1, {{\"a\": null}}], \"{field}\": {JsonSerializer.Serialize(v)} }} \n"), v), Accepted, "valid body with an extra field"))),
            (optional ? 1 : 0, Gen.OneOf(P(new Body(null, null), Accepted, "no body"), P(new Body(Utf8("{}"), null), Accepted, "{}"), P(new Body(Utf8($"{{\"{field}\": null}}"), null), Accepted, "null field"))));

        var wrongTypes = new[] { "42", "-0.5e308", "true", "false", "[]", "[\"x\"]", "{}", "{\"nested\": \"x\"}" };
        var bad = Gen.Frequency(
            (1, Gen.OneOf(P(new Body(null, null), optionalOk, "no body"), P(new Body(Utf8("{}"), null), optionalOk, "{}"), P(new Body(Utf8($"{{\"{field}\": null}}"), null), optionalOk, "null field"))),
            (2, Gen.OneOf(wrongTypes).Select(t => P(new Body(Utf8($"{{\"{field}\": {t}}}"), null), Refused, $"{field} is {t}"))),
            (1, Gen.OneOf("", " ", "\n\t ").Select(s => P(new Body(Utf8(Json(field, s)), s), optional ? Accepted : Refused, "blank string"))),
            (1, Gen.OneOf("42", "\"text\"", "[]", "null", "true", "[{}]").Select(r => P(new Body(Utf8(r), null), Refused, $"root is {r}"))),
            (2, from v in values
                let json = Json(field, v)
                from cut in Gen.Int[1, json.Length - 1]
                select P(new Body(Utf8(json[..cut]), null), Refused, "truncated JSON")),
            (1, Gen.OneOf(
                $"{{\"{field}\": \"x\",}}", $"{{\"{field}\": \"x\" /* c */}}", $"{{'{field}': 'x'}}", $"{{{field}: \"x\"}}",
                $"{{\"{field}\": \"x\"}} trailing", $"{{\"{field}\": \"x\"}}{{}}", $"{{\"{field}\": NaN}}", "{", "}", "\"", "\uFEFF")
                .Select(s => P(new Body(Utf8(s), null), Refused, "malformed JSON"))),
            (2, from depth in Gen.Int[10, 10_000]
                from shape in Gen.Int[0, 2]
                select P(new Body(Utf8(shape switch
                {
                    0 => $"{{\"{field}\": {new string('[', depth)}{new string(']', depth)}}}",
                    1 => new string('[', depth) + new string(']', depth),
                    _ => string.Concat(Enumerable.Repeat("{\"a\":", depth)) + "1" + new string('}', depth),
                }), null), Refused, $"nested {depth} deep")),
            (2, from v in values
                from bytes in Gen.OneOf(new byte[] { 0xC3, 0x28 }, [0xFF], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80], [0xE2, 0x82])
                select P(new Body([.. Utf8($"{{\"{field}\": \"{v[..Math.Min(v.Length, 3)]}"), .. bytes, .. Utf8("z\"}")], null), Refused, "invalid UTF-8 in the value")),
            (1, Gen.OneOf("\0", "\u0001", "\n", "\u001f").Select(c => P(new Body(Utf8($"{{\"{field}\": \"a{c}b\"}}"), null), Refused, "unescaped control character"))),
            (1, Gen.Int[maxChars + 1, maxChars * 3].Select(n => P(new Body(Utf8(Json(field, new string('x', n))), null), Refused, $"{field} of {n} chars"))),
            (1, from megabytes in Gen.Int[2, 6]
                from chunked in Gen.Bool
                select P(new Body(Utf8($"{{\"{field}\": \"{new string('m', megabytes << 20)}\"}}"), null, chunked), Refused, $"{megabytes} MB body{(chunked ? ", chunked" : "")}")),
            (1, Gen.Const(P(new Body(Utf8($"{{\"{field}\": \"first\", \"{field}\": \"second\"}}"), null), Either, "duplicate field"))),
            (1, Gen.OneOf("\\ud800", "x\\udc00y", "\\udbff\\udbff").Select(s => P(new Body(Utf8($"{{\"{field}\": \"{s}\"}}"), null), Either, "lone surrogate escape"))));
        return Mixed(hostile, valid, bad);
    }

    private static readonly Gen<string> Names = Gen.OneOf("Ada", "  Zoë  ", "名前", "Robert'); DROP TABLE--", new string('n', 64), "a\u0000b");

    private static readonly Gen<string> Titles = Gen.OneOf("Plans", "", "🎉 party", "<b>bold</b>", new string('t', 200), "tab\tnul\u0000");

    private static readonly Gen<string> Contents = Gen.OneOf(
        "hello", "tell me a story", "ünïcødé ✓ 🎉", "nul \u0000 inside", "  padded  ", "<script>alert(1)</script>", "line1\nline2\r\n", "{\"content\": \"json in json\"}");

    private static readonly Gen<string> InviteTokens = Gen.OneOf("not-a-token", "", " ", "AAAAAAAAAAAAAAAAAAAAAAAA", new string('z', 3000), "../../etc/passwd");

    // ----- routes -----

    private static Probe Build(Route route, string method, string target, IEnumerable<Header?> headers, Body? body, Verdict verdict, Intent? intent, params object[] parts) =>
        new(route, method, target, [.. headers.OfType<Header>()], body?.Bytes, body?.Chunked ?? false, verdict, intent,
            string.Join("; ", parts.Select(p => p.ToString()).Where(s => !string.IsNullOrEmpty(s))));

    private static Header? H(string name, string? value) => value is null ? null : new Header(name, value);

    private static IEnumerable<Header?> Common(Part<string?> accept, Part<string?>? contentType, Part<Header[]> extra, string? authorization) =>
        [H("Authorization", authorization), H("Accept", accept.Value), H("Content-Type", contentType?.Value), .. extra.Value];

    private Gen<Probe> SignIn(bool hostile) =>
        from who in Caller(hostile)
        from body in JsonBody(hostile, "name", Names, optional: false, maxChars: 64)
        from accept in Accept
        from type in ContentType
        from extra in Extra(hostile)
        // Sign-in is anonymous: whatever Authorization comes along is not looked at.
        select Build(Route.SignIn, "POST", "/api/auth/guest", Common(accept, type, extra, who.Value.Authorization), body.Value,
            Worst(body.Verdict, extra.Verdict), null, "sign-in", body, accept, extra);

    private Gen<Probe> CreateConversation(bool hostile) =>
        from who in Caller(hostile)
        from body in JsonBody(hostile, "title", Titles, optional: true, maxChars: 200)
        from accept in Accept
        from type in ContentType
        from extra in Extra(hostile)
        select Build(Route.CreateConversation, "POST", "/api/conversations", Common(accept, type, extra, who.Value.Authorization), body.Value,
            Worst(who.Verdict, body.Verdict, extra.Verdict), who.Value.User is { } u ? new CreatesConversation(u) : null, who, body, accept, extra);

    private Gen<Probe> ListConversations(bool hostile) =>
        from who in Caller(hostile)
        from accept in Accept
        from extra in Extra(hostile)
        select Build(Route.ListConversations, "GET", "/api/conversations", Common(accept, null, extra, who.Value.Authorization), null,
            Worst(who.Verdict, extra.Verdict), null, who, accept, extra);

    private Gen<Probe> GetConversation(bool hostile) =>
        from access in Access(hostile)
        from limit in Limit(hostile)
        from accept in Accept
        from extra in Extra(hostile)
        select Build(Route.Conversation, "GET", $"/api/conversations/{access.Value.Conversation}" + QueryString(("limit", limit.Value)),
            Common(accept, null, extra, access.Value.Who.Authorization), null,
            Worst(access.Verdict, limit.Verdict, extra.Verdict), null, access, limit, accept, extra);

    /// <summary>A page of the history: <c>limit</c> as on the snapshot, and <c>before</c> a message id (an unknown one is a 404).</summary>
    private Gen<Probe> Messages(bool hostile) =>
        from access in Access(hostile)
        from limit in Limit(hostile)
        from before in Mixed(hostile,
            Gen.Const(P<string?>(null, Accepted, "no before")),
            Gen.OneOf(P<string?>("no-such-message", Refused, "unknown before"), P<string?>("", Either, "empty before"), P<string?>("../x", Refused, "before ../x")))
        from accept in Accept
        from extra in Extra(hostile)
        select Build(Route.Messages, "GET", $"/api/conversations/{access.Value.Conversation}/messages" + QueryString(("before", before.Value), ("limit", limit.Value)),
            Common(accept, null, extra, access.Value.Who.Authorization), null,
            Worst(access.Verdict, limit.Verdict, before.Verdict, extra.Verdict), null, access, limit, before, accept, extra);

    private static Gen<Part<string?>> Limit(bool hostile) => Mixed(hostile,
        Gen.OneOf(P<string?>(null, Accepted, "no limit"), P<string?>("1", Accepted, "limit 1"), P<string?>("1000", Accepted, "limit 1000")),
        Gen.OneOf(P<string?>("0", Refused, "limit 0"), P<string?>("1001", Refused, "limit 1001"), P<string?>("-1", Refused, "limit -1"),
            P<string?>("ten", Refused, "limit ten"), P<string?>("1.5", Refused, "limit 1.5"), P<string?>("", Refused, "empty limit")));

    private Gen<Probe> Invite(bool hostile) =>
        from access in Access(hostile)
        // The body is optional (an invite's terms); an unknown field is ignored, bytes that are not UTF-8 are a 400.
        from terms in Gen.OneOf(
            P(new Body(null, null), Accepted, "no body"),
            P(new Body(Utf8("{\"ignored\": true}"), null), Accepted, "an unknown field"),
            P(new Body(Utf8("{\"expiresInSeconds\": 3600, \"maxUses\": null}"), null), Accepted, "terms"),
            P(new Body([0xFF, 0x00, 0xFE], null), Refused, "not UTF-8"),
            P(new Body(Utf8("{\"maxUses\": 0}"), null), Refused, "maxUses 0"))
        from accept in Accept
        from extra in Extra(hostile)
        select Build(Route.Invite, "POST", $"/api/conversations/{access.Value.Conversation}/invites", Common(accept, null, extra, access.Value.Who.Authorization),
            terms.Value, Worst(access.Verdict, terms.Verdict, extra.Verdict), null, access, terms, accept, extra);

    /// <summary>No generated invite token is real, so every join is refused (404 for a guessed token).</summary>
    private Gen<Probe> Join(bool hostile) =>
        from access in Access(hostile)
        from body in JsonBody(hostile, "inviteToken", InviteTokens, optional: false, maxChars: 4096)
        from accept in Accept
        from type in ContentType
        from extra in Extra(hostile)
        select Build(Route.Join, "POST", $"/api/conversations/{access.Value.Conversation}/members", Common(accept, type, extra, access.Value.Who.Authorization),
            body.Value, body.Verdict == Either ? Either : Refused, null, access, body, accept, extra);

    private Gen<Probe> PostMessage(bool hostile) =>
        from access in Access(hostile)
        from body in JsonBody(hostile, "content", Contents, optional: false, maxChars: 32 * 1024)
        from drawnKey in IdempotencyKey(hostile)
        from resume in ResumePoint(hostile)
        from accept in Accept
        from type in ContentType
        from extra in Extra(hostile)
        // A body whose stored content cannot be known is posted without a key, so the model can
        // still tell a new exchange from a resumed one.
        let key = body.Verdict == Either ? P<string?>(null, Accepted, "") : drawnKey
        select Build(Route.PostMessage, "POST", $"/api/conversations/{access.Value.Conversation}/messages",
            [.. Common(accept, type, extra, access.Value.Who.Authorization), H("Idempotency-Key", key.Value), H("Last-Event-ID", resume.Value)],
            body.Value, Worst(access.Verdict, body.Verdict, key.Verdict, resume.Verdict, extra.Verdict),
            access.Value.Who.User is { } u ? new PostsMessage(access.Value.Conversation, u, body.Value.Value, key.Value) : null,
            access, body, key, resume, accept, extra);

    private Gen<Probe> Cancel(bool hostile) =>
        from access in Access(hostile)
        from message in Gen.OneOf(
            P(Probe.LatestReply, Either, "the latest reply"),
            P(world.FinishedReplyId, Refused, "a finished reply"),
            P(world.PromptId, Refused, "a prompt"),
            P("nope", Refused, "an unknown message"),
            P("%00%FF", Refused, "a NUL message id"),
            P(new string('m', 2000), Refused, "a 2,000-char message id"))
        from accept in Accept
        from extra in Extra(hostile)
        select Build(Route.Cancel, "POST", $"/api/conversations/{access.Value.Conversation}/messages/{message.Value}/cancel",
            Common(accept, null, extra, access.Value.Who.Authorization), null,
            Worst(access.Verdict, message.Verdict, extra.Verdict),
            message.Value == Probe.LatestReply ? new CancelsLatestReply(access.Value.Conversation) : null, access, message, accept, extra);

    private Gen<Probe> Watch(bool hostile) =>
        from access in Access(hostile)
        from method in Gen.OneOf("GET", "POST")
        from tokenInQuery in Gen.Bool
        from header in ResumePoint(hostile)
        from query in ResumePoint(hostile)
        from accept in Accept
        from extra in Extra(hostile)
        let who = access.Value.Who
        // A native EventSource passes its token in the query, on GET; POST clients can set headers.
        let inQuery = tokenInQuery && who.Authorization is { } a && a.StartsWith("Bearer ", StringComparison.Ordinal)
        let queryToken = inQuery ? P<string?>(who.Authorization![7..], method == "GET" ? Accepted : Either, "token in the query") : P<string?>(null, Accepted, "")
        // The header wins when it holds anything but whitespace.
        let resume = string.IsNullOrWhiteSpace(header.Value) ? query : header
        let target = $"/api/conversations/{access.Value.Conversation}/events" + QueryString(("lastEventId", query.Value), ("access_token", queryToken.Value))
        select Build(Route.Watch, method, target,
            [.. Common(accept, null, extra, inQuery ? null : who.Authorization), H("Last-Event-ID", header.Value)], null,
            Worst(access.Verdict, resume.Verdict, queryToken.Verdict, extra.Verdict), null,
            access, method, queryToken, $"header {header}", $"query {query}", accept, extra);

    private static string QueryString(params (string Name, string? Value)[] pairs)
    {
        var present = pairs.Where(p => p.Value is not null).Select(p => $"{p.Name}={Uri.EscapeDataString(p.Value!)}").ToArray();
        return present.Length == 0 ? "" : "?" + string.Join("&", present);
    }

    private Gen<Probe> NoSuchRoute() =>
        from who in Caller(true)
        from route in Gen.OneOf(
            ("PUT", "/api/conversations"), ("PUT", $"/api/conversations/{world.Shared}"), ("PATCH", $"/api/conversations/{world.Shared}/messages"),
            ("GET", "/api/auth/guest"), ("PUT", $"/api/conversations/{world.Shared}/messages"), ("DELETE", $"/api/conversations/{world.Shared}/events"),
            ("GET", "/api/nope"), ("POST", $"/api/conversations/{world.Shared}/nope"), ("POST", $"/api/conversations/{world.Shared}/messages/x/y/z"))
        from accept in Accept
        select Build(Route.NoSuchRoute, route.Item1, route.Item2, Common(accept, null, P(Array.Empty<Header>(), Accepted, ""), who.Value.Authorization),
            null, Refused, null, who, "no such route", accept);
}
