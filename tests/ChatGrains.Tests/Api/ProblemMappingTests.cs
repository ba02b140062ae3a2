using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using ChatGrains.Api;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;

namespace ChatGrains.Tests.Api;

/// <summary>
/// The cluster's passing troubles (a call that timed out while a silo died, a silo that is
/// gone, the database down) reach clients as 503 problem+json with Retry-After, through the same exception
/// handler the service uses; anything unforeseen stays a 500.
/// </summary>
[Trait("Category", TestCategory.Api)]
public sealed class ProblemMappingTests
{
    public static TheoryData<string, int, string> Failures()
    {
        var data = new TheoryData<string, int, string>();
        foreach (var (failure, status) in new[] { ("timeout", 503), ("silo unavailable", 503), ("connection failed", 503), ("store unavailable", 503), ("bug", 500) })
            foreach (var accept in Problems.Accepts) data.Add(failure, status, accept);
        return data;
    }

    [Theory]
    [MemberData(nameof(Failures))]
    public async Task A_failed_grain_call_is_a_problem_with_the_right_status(string failure, int status, string accept)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseTestServer();
        builder.Services.AddProblemJson();
        await using var app = builder.Build();
        app.UseExceptionHandler();
        app.MapGet("/call", string () => throw failure switch
        {
            "timeout" => new TimeoutException("Response did not arrive on time in 00:00:10"),
            "silo unavailable" => new SiloUnavailableException("The target silo became unavailable"),
            "connection failed" => new Orleans.Runtime.Messaging.ConnectionFailedException("Unable to connect to the silo"),
            "store unavailable" => ConversationException.StoreUnavailable(),
            _ => new InvalidOperationException("a bug"),
        });
        await app.StartAsync();

        var response = await app.GetTestClient().SendAsync(Problems.Request(HttpMethod.Get, "/call", accept));

        Assert.Equal((HttpStatusCode)status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(status, problem.GetProperty("status").GetInt32());
        if (status == 503) Assert.Equal("2", response.Headers.RetryAfter?.ToString());
        else Assert.Null(response.Headers.RetryAfter);
    }
}
