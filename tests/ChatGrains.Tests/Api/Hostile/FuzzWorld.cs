using System.Security.Claims;
using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace ChatGrains.Tests.Api.Hostile;

/// <summary>
/// What the hostile requests aim at: three people, a conversation Ada shares with Bob (with one
/// finished exchange), one of Eve's own, and tokens forged every way a client could try.
/// </summary>
public sealed class FuzzWorld : IDisposable
{
    private FuzzWorld(ApiUser ada, ApiUser bob, ApiUser eve) => (Ada, Bob, Eve) = (ada, bob, eve);

    public ApiUser Ada { get; }
    public ApiUser Bob { get; }
    public ApiUser Eve { get; }
    public string Shared { get; private set; } = "";
    public string EvesOwn { get; private set; } = "";
    public string PromptId { get; private set; } = "";
    public string FinishedReplyId { get; private set; } = "";
    public IReadOnlyList<Part<string?>> ForgedAuthorizations { get; private set; } = [];

    public IEnumerable<ApiUser> People => [Ada, Bob, Eve];

    public IEnumerable<string> Conversations => [Shared, EvesOwn];

    public ApiUser OwnerOf(string conversation) => conversation == Shared ? Ada : Eve;

    public bool IsMember(ApiUser user, string conversation) =>
        conversation == Shared ? user == Ada || user == Bob : conversation == EvesOwn && user == Eve;

    public static async Task<FuzzWorld> SetUpAsync(ApiServer server)
    {
        var world = new FuzzWorld(await server.SignInAsync("Ada"), await server.SignInAsync("Bob"), await server.SignInAsync("Eve"));
        world.Shared = await world.Ada.CreateConversationAsync("Shared");
        await world.Ada.ShareWithAsync(world.Shared, world.Bob);
        await using (var post = await world.Ada.PostAsync(world.Shared, "the first prompt")) await post.ReadToEndAsync();
        var messages = (await world.Ada.SnapshotAsync(world.Shared)).GetProperty("messages");
        world.PromptId = messages[0].GetProperty("id").GetString()!;
        world.FinishedReplyId = messages[1].GetProperty("id").GetString()!;
        world.EvesOwn = await world.Eve.CreateConversationAsync("Eve's");
        world.ForgedAuthorizations = Forge(world, File.ReadAllText(Path.Combine(server.DataDirectory, "signing-key")).Trim());
        return world;
    }

    private static Part<string?>[] Forge(FuzzWorld world, string realKey)
    {
        var handler = new JsonWebTokenHandler();
        var now = DateTime.UtcNow;
        string Sign(string key, string? sub, DateTime expires, string issuer = "chatgrains", string audience = "chatgrains")
        {
            var claims = new List<Claim> { new("name", "Mallory") };
            if (sub is not null) claims.Add(new(JwtRegisteredClaimNames.Sub, sub));
            return handler.CreateToken(new SecurityTokenDescriptor
            {
                Issuer = issuer,
                Audience = audience,
                IssuedAt = expires.AddHours(-2),
                NotBefore = expires.AddHours(-2),
                Expires = expires,
                Subject = new ClaimsIdentity(claims),
                SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(key)) { KeyId = "chatgrains-guest" }, SecurityAlgorithms.HmacSha256),
            });
        }
        static string B64(string json) => Base64UrlEncoder.Encode(json);
        var ada = world.Ada.UserId;
        var unsigned = $"{B64("{\"alg\":\"none\",\"typ\":\"JWT\",\"kid\":\"chatgrains-guest\"}")}.{B64($"{{\"sub\":\"{ada}\",\"name\":\"Ada\",\"iss\":\"chatgrains\",\"aud\":\"chatgrains\",\"exp\":{new DateTimeOffset(now.AddHours(1)).ToUnixTimeSeconds()}}}")}.";
        var adaParts = world.Ada.Token.Split('.');
        var bobParts = world.Bob.Token.Split('.');
        var later = now.AddHours(1);
        return
        [
            new(null, Verdict.Refused, "no token"),
            new("Bearer", Verdict.Refused, "'Bearer' alone"),
            new("Bearer ", Verdict.Refused, "empty bearer token"),
            new("Bearer not-a-jwt", Verdict.Refused, "random token"),
            new("Bearer a.b.c", Verdict.Refused, "three junk segments"),
            new("Bearer " + new string('A', 12_000), Verdict.Refused, "12 KB token"),
            new("Basic YWRhOmFkYQ==", Verdict.Refused, "Basic credentials"),
            new("Bearer " + unsigned, Verdict.Refused, "alg=none as Ada"),
            new("Bearer " + Sign(Convert.ToBase64String(new byte[48]), ada, later), Verdict.Refused, "HS256 with a wrong key as Ada"),
            new("Bearer " + Sign(realKey, ada, now.AddHours(-1)), Verdict.Refused, "expired an hour ago, real key"),
            new("Bearer " + Sign(realKey, ada, later, issuer: "evil"), Verdict.Refused, "wrong issuer, real key"),
            new("Bearer " + Sign(realKey, ada, later, audience: "evil"), Verdict.Refused, "wrong audience, real key"),
            new("Bearer " + Sign(realKey, null, later), Verdict.Refused, "no subject, real key"),
            new($"Bearer {adaParts[0]}.{adaParts[1]}.{bobParts[2]}", Verdict.Refused, "Ada's token with Bob's signature"),
            new($"Bearer {adaParts[0]}.{bobParts[1]}.{adaParts[2]}", Verdict.Refused, "Bob's claims under Ada's signature"),
            new($"Bearer {world.Ada.Token}x", Verdict.Refused, "Ada's token with a byte appended"),
        ];
    }

    public void Dispose()
    {
        foreach (var person in People) person.Dispose();
    }
}
