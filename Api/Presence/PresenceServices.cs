namespace ChatGrains.Api.Presence;

public static class PresenceServices
{
    /// <summary>This host's presence reporter (one per process) and its options, checked at start.</summary>
    public static IServiceCollection AddPresence(this IServiceCollection services, IConfiguration config)
    {
        services.AddOptions<PresenceOptions>().Bind(config.GetSection(PresenceOptions.SectionName))
            .Validate(o => o.RenewInterval >= TimeSpan.FromMilliseconds(100) && o.Lease >= 2 * o.RenewInterval && o.Lease <= HostPresence.MaxLease,
                "Presence: RenewInterval at least 100ms, Lease at least twice RenewInterval and at most a minute.")
            .Validate(o => o.BatchDelay >= TimeSpan.Zero && o.BatchDelay < o.RenewInterval, "Presence: BatchDelay from 0 to below RenewInterval.")
            .ValidateOnStart();
        services.AddSingleton<PresenceReporter>();
        services.AddHostedService(sp => sp.GetRequiredService<PresenceReporter>());
        return services;
    }
}
