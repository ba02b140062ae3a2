using System.Reflection;
using ChatGrains.Api;
using ChatGrains.Hosting;

namespace ChatGrains.Tests.Structure;

/// <summary>
/// The Api sees the grains only through their interfaces, and the silo only in the one file that
/// co-hosts it: the project references say so (Api/Api.csproj); these check that they still do.
/// </summary>
[Trait("Category", TestCategory.Unit)]
public sealed class ProjectLayoutTests
{
    private static IReadOnlySet<string?> References(Assembly assembly) =>
        assembly.GetReferencedAssemblies().Select(a => a.Name).ToHashSet();

    [Fact]
    public void The_api_is_compiled_without_the_grains()
    {
        var api = References(typeof(ApiHosting).Assembly);
        Assert.Contains("Grains.Interfaces", api);
        Assert.Contains("Hosting", api);
        Assert.Contains("Silo.Hosting", api);
        Assert.DoesNotContain("Grains", api);
    }

    [Fact]
    public void What_every_host_shares_does_not_see_the_grains()
    {
        var hosting = References(typeof(TelemetryHosting).Assembly);
        Assert.Contains("Grains.Interfaces", hosting);
        Assert.DoesNotContain("Grains", hosting);
        Assert.DoesNotContain("Silo.Hosting", hosting);
    }

    [Fact]
    public void Only_the_co_hosting_file_of_the_api_uses_silo_hosting()
    {
        var api = Path.Combine(RepositoryRoot, "Api");
        var users = Directory.EnumerateFiles(api, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
            .Where(f => File.ReadAllText(f).Contains("ChatGrains.Silo"))
            .Select(f => Path.GetRelativePath(RepositoryRoot, f).Replace(Path.DirectorySeparatorChar, '/'));
        Assert.Equal(["Api/Extensions/CoHosting.cs"], users);
    }

    private static string RepositoryRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "ChatGrains.sln"))) dir = dir.Parent;
            return dir?.FullName ?? throw new InvalidOperationException("ChatGrains.sln not found above the test binaries.");
        }
    }
}
