using ChatGrains.Tests.Infrastructure;

namespace ChatGrains.Tests.Api;

/// <summary>One running service shared by the tests of a class.</summary>
public class ApiServerFixture : IDisposable
{
    private readonly TempDirectory _data = new();

    public ApiServerFixture() => Server = new ApiServer(_data.Path, Settings, ConfigureServices);

    public ApiServer Server { get; }

    protected virtual IDictionary<string, string?>? Settings => null;

    protected virtual Action<Microsoft.Extensions.DependencyInjection.IServiceCollection>? ConfigureServices => null;

    public void Dispose()
    {
        Server.Dispose();
        _data.Dispose();
    }
}
