using ChatGrains.Tests.Api;
using Microsoft.Playwright;

namespace ChatGrains.Tests.Web;

/// <summary>
/// The real service, with replies paced slowly enough (20 tokens/s, so 6–10 s a reply) that a
/// test can act while one streams, and the machine's Chromium driven by Playwright.
/// </summary>
public class WebFixture : ApiServerFixture, IAsyncLifetime
{
    private IPlaywright? _playwright;

    public IBrowser Browser { get; private set; } = null!;

    /// <summary>What <c>/health/feeds</c> accepts (initialized before the base constructor starts the service).</summary>
    public string OperatorKey { get; } = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(48));

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Generator:TokensPerSecond"] = "20",
        ["Operators:Key"] = OperatorKey,
    };

    public async Task InitializeAsync()
    {
        // A reply takes up to ~10 s; expectations wait on conditions, never on time.
        Assertions.SetDefaultExpectTimeout(30_000);
        _playwright = await Playwright.CreateAsync();
        // Playwright cannot download its own browser here: use the distribution's Chromium.
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = "/usr/bin/chromium",
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
    }

    /// <summary>
    /// A fresh browser profile (its own cookies, storage and connection pool): one person's browser,
    /// on the machine's clock and language unless <paramref name="timezoneId"/> and <paramref name="locale"/> say otherwise.
    /// </summary>
    public Task<IBrowserContext> NewBrowserAsync(int width = 1280, int height = 800, string? timezoneId = null, string? locale = null) => Browser.NewContextAsync(new BrowserNewContextOptions
    {
        BaseURL = Server.BaseAddress.ToString(),
        ViewportSize = new ViewportSize { Width = width, Height = height },
        Permissions = ["clipboard-read", "clipboard-write"],
        TimezoneId = timezoneId,
        Locale = locale,
    });

    public virtual async Task DisposeAsync()
    {
        if (Browser is not null) await Browser.CloseAsync();
        _playwright?.Dispose();
    }
}

/// <summary>
/// Browser tests run on their own, after the others: ten Chromium tabs are a burst of CPU that
/// would skew the timing-sensitive tests running beside them, and be skewed by them.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class BrowserTests
{
    public const string Name = "Browser";
}
