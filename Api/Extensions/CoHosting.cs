#if CO_HOST_SILO
using ChatGrains.Silo;
#endif

namespace ChatGrains.Api;

/// <summary>
/// The embedded single node: with no cluster configured, the API host runs the silo in its own
/// process, configured exactly as the Silo host configures its own. This is the only file of the
/// Api that uses Silo.Hosting; the grains themselves are not visible to the Api at all (see
/// Api.csproj), so the rest of it sees the cluster only through the grain interfaces. Built with
/// <c>-p:CoHostSilo=false</c> (the cluster's API image) the Api has no silo to co-host.
/// </summary>
internal static class CoHosting
{
    public static WebApplicationBuilder AddCoHostedSilo(this WebApplicationBuilder builder)
    {
#if CO_HOST_SILO
        builder.AddConversationSilo();
        return builder;
#else
        throw new InvalidOperationException(
            "This API host was built without the silo (-p:CoHostSilo=false), for cluster mode only: set ConnectionStrings:Redis to the cluster's Redis.");
#endif
    }
}
