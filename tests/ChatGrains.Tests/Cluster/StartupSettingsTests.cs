using System.Diagnostics;

namespace ChatGrains.Tests.Cluster;

/// <summary>Settings that cannot work stop a host at start, with a message that names the setting.</summary>
public sealed class StartupSettingsTests
{
    [Theory]
    [InlineData("Silo.dll", "ConnectionStrings__Redis=127.0.0.1:1", "ConnectionStrings:Postgres")]
    [InlineData("Api.dll", "ConnectionStrings__Redis=127.0.0.1:1", "Auth:SigningKey")]
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
