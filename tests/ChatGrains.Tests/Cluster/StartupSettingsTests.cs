using System.Diagnostics;

namespace ChatGrains.Tests.Cluster;

/// <summary>Settings that cannot work stop a host at start, with a message that names the setting.</summary>
[Trait("Category", TestCategory.Cluster)]
public sealed class StartupSettingsTests
{
    [Theory]
    [InlineData("Silo.dll", "ConnectionStrings__Redis=127.0.0.1:1", "ConnectionStrings:Postgres")]
    [InlineData("Api.dll", "ConnectionStrings__Redis=127.0.0.1:1", "Auth:SigningKey")]
    [InlineData("Api.dll", "ConnectionStrings__Redis=127.0.0.1:1|Auth__SigningKey=0123456789012345678901234567890", "Auth:SigningKey must be at least 32 bytes")]
    // The length counts UTF-8 bytes: 15 two-byte characters are 30.
    [InlineData("Api.dll", "ConnectionStrings__Redis=127.0.0.1:1|Auth__SigningKey=ééééééééééééééé", "Auth:SigningKey must be at least 32 bytes")]
    [InlineData("Api.dll", "ConnectionStrings__Redis=127.0.0.1:1|Auth__SigningKey=local-dev-only-signing-key-change-me-0123456789", "Auth:SigningKey is a key published")]
    // A published key is refused in the embedded mode too, whenever it is configured.
    [InlineData("Api.dll", "Auth__SigningKey=local-dev-only-signing-key-change-me-0123456789", "Auth:SigningKey is a key published")]
    [InlineData("Api.dll", "Operators__Key=operator", "Operators:Key must be at least 32 bytes")]
    [InlineData("Silo.dll", "Orleans__AdvertisedIP=not-an-address|ConnectionStrings__Redis=127.0.0.1:1|ConnectionStrings__Postgres=Host=127.0.0.1", "Orleans:AdvertisedIP")]
    public async Task A_host_with_unusable_cluster_settings_exits_at_once_naming_the_setting(string program, string environment, string named)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetTempPath(),
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, program));
        info.ArgumentList.Add("--urls=http://127.0.0.1:0");
        foreach (var pair in environment.Split('|'))
        {
            var at = pair.IndexOf('=');
            info.Environment[pair[..at]] = pair[(at + 1)..];
        }
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{program} kept running with {environment}");
        }
        Assert.NotEqual(0, process.ExitCode);
        Assert.Contains(named, await output + await errors);
    }
}
