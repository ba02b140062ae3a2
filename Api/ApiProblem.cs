namespace ChatGrains.Api;

/// <summary>
/// A request the API refuses before anything changes; <see cref="Extensions.ProblemMapping"/>
/// turns it (and a grain's <see cref="ConversationException"/>) into a problem+json response.
/// </summary>
public sealed class ApiProblem(int status, string title, string detail) : Exception(detail)
{
    public int Status { get; } = status;
    public string Title { get; } = title;
}
