using System.Globalization;

namespace ChatGrains.Api.Apis;

/// <summary>
/// The query of a snapshot or a page of messages: <c>limit</c> (1 to <see cref="Paging.MaxLimit"/>,
/// default <see cref="Paging.DefaultLimit"/>) and <c>before</c> (a message id). A bad limit is 400,
/// but to someone who is not a member the conversation is 404 first, as on every route.
/// </summary>
public static class PageQuery
{
    public static async Task<int> LimitAsync(HttpRequest request, IConversationGrain grain, string userId)
    {
        var values = request.Query["limit"];
        if (values.Count == 0) return Paging.DefaultLimit;
        if (values.Count == 1 && int.TryParse(values[0], NumberStyles.None, CultureInfo.InvariantCulture, out var limit) && limit is >= 1 and <= Paging.MaxLimit)
            return limit;
        await grain.GetHeadAsync(userId);
        throw new ApiProblem(StatusCodes.Status400BadRequest, "Invalid limit", $"'limit' must be a whole number from 1 to {Paging.MaxLimit}.");
    }

    /// <summary>The message a page ends before, or null for the latest messages.</summary>
    public static string? Before(HttpRequest request) =>
        request.Query.TryGetValue("before", out var before) ? before.ToString() : null;
}
