using ChatGrains.Api.Auth;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace ChatGrains.Api.Apis;

public static class AuthApi
{
    public const int MaxNameLength = 64;

    public static IEndpointRouteBuilder MapAuthApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/auth/guest", SignInAsGuest).AllowAnonymous().RequireRateLimiting(RateLimits.SignIn);
        return app;
    }

    private static async Task<Ok<GuestSession>> SignInAsGuest(HttpRequest request, GuestTokens tokens, IOptions<AuthOptions> options)
    {
        if (!options.Value.GuestSignIn)
            throw new ApiProblem(StatusCodes.Status404NotFound, "Guest sign-in is off", "This deployment does not issue guest tokens.");
        var body = await JsonBody.ReadAsync(request, 4096);
        var name = JsonBody.RequiredString(body, "name").Trim();
        if (name.Length > MaxNameLength)
            throw new ApiProblem(StatusCodes.Status400BadRequest, "Invalid name", $"'name' must be at most {MaxNameLength} characters.");
        var userId = Guid.NewGuid().ToString("N");
        return TypedResults.Ok(new GuestSession(tokens.Issue(userId, name), userId, name));
    }

    public sealed record GuestSession(string Token, string UserId, string Name);
}
