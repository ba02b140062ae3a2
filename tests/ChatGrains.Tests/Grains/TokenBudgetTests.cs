using ChatGrains.Silo;
using ChatGrains.Users;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace ChatGrains.Tests.Grains;

/// <summary>The day arithmetic of a budget, and its setting checked at start; no cluster.</summary>
[Trait("Category", TestCategory.Unit)]
public sealed class TokenBudgetTests
{
    [Theory]
    [InlineData("2031-03-04T23:59:59.2500000Z", "2031-03-05T00:00:00Z", 1)]
    [InlineData("2031-03-04T00:00:00Z", "2031-03-05T00:00:00Z", 86_400)]
    [InlineData("2031-03-04T12:00:00.0000001Z", "2031-03-05T00:00:00Z", 43_200)]
    [InlineData("2031-03-05T01:30:00+02:00", "2031-03-05T00:00:00Z", 1_800)]
    public void The_budget_resets_at_the_next_UTC_midnight_and_Retry_After_rounds_up(string now, string resetsAt, int seconds)
    {
        var time = DateTimeOffset.Parse(now, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(DateTimeOffset.Parse(resetsAt, System.Globalization.CultureInfo.InvariantCulture), TokenBudget.ResetsAt(time));
        Assert.Equal(seconds, TokenBudget.SecondsUntilReset(time));
    }

    [Fact]
    public void Once_seen_at_the_limit_a_user_is_over_for_the_rest_of_that_day_only()
    {
        var budget = new TokenBudget(100);
        var day = new DateOnly(2031, 3, 4);
        budget.Observe(day, new Usage(60, 39));
        Assert.False(budget.KnownOver(day));
        budget.Observe(day, new Usage(60, 40));
        Assert.True(budget.KnownOver(day));
        // A stale read (taken before the last charge) does not take it back.
        budget.Observe(day, new Usage(10, 10));
        Assert.True(budget.KnownOver(day));
        Assert.False(budget.KnownOver(day.AddDays(1)));
        Assert.False(new TokenBudget(0).IsOver(new Usage(int.MaxValue, int.MaxValue)));
    }

    [Fact]
    public async Task A_negative_budget_stops_the_silo_at_start_naming_the_setting()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Limits:TokensPerUserPerDay"] = "-1" });
        builder.AddConversationServices();
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains("Limits:TokensPerUserPerDay", error.Message);
    }
}
