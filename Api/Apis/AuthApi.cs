using ChatGrains.Api.Auth;
using ChatGrains.Api.OpenApi;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ChatGrains.Api.Apis;

public static class AuthApi
{
    public const int MaxNameLength = 64;

    public static IEndpointRouteBuilder MapAuthApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/auth/guest", SignInAsGuest).AllowAnonymous().RequireRateLimiting(RateLimits.SignIn)
            .WithTags("Auth").TakesBody<GuestSignInBody>().Refuses(400, 404, 413, 429);
        return app;
    }

    private static Ok<GuestSession> SignInAsGuest(GuestSignInBody body, GuestTokens tokens)
    {
        var userId = Guid.NewGuid().ToString("N");
        return TypedResults.Ok(new GuestSession(tokens.Issue(userId, body.Name), userId, body.Name));
    }

    public sealed record GuestSession(string Token, string UserId, string Name);
}
