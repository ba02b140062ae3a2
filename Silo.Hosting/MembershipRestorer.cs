using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Clustering.Redis;
using Orleans.Configuration;
using Orleans.Runtime;
using StackExchange.Redis;

namespace ChatGrains.Silo;

/// <summary>
/// Puts the Redis membership table back when Redis loses it (restarted without its data, or
/// flushed). Orleans does not recover from that by itself: a silo accepts only a table whose
/// version is newer than the one it last saw, so running silos ignore the emptied table and
/// never write their rows again; API hosts, which find gateways in the table, see only the silos
/// that start afterwards; and the next silo death cannot be recorded, so requests fail until
/// silos are restarted by hand (and once the new table's version passed theirs, the running silos
/// would find themselves missing from it and stop).
///
/// So each silo keeps a copy of the table as it last read it. When the table's version falls
/// below that copy's, the silo writes back, in one atomic script, the rows that are missing and
/// a version past every view the silos hold; the silos then read it as the next table. Rows go
/// back as Orleans wrote them (raw hash fields): this knows nothing of their format but the
/// Version field. A silo also puts back its own row if a restore by another silo lacked it.
/// </summary>
internal sealed partial class MembershipRestorer(
    IOptions<RedisClusteringOptions> redisOptions,
    IOptions<ClusterOptions> clusterOptions,
    ILocalSiloDetails silo,
    ILogger<MembershipRestorer> logger) : BackgroundService
{
    /// <summary>How often the table is compared with the copy: a lost table is restored at most this long after Redis answers again.</summary>
    public static readonly TimeSpan CheckPeriod = TimeSpan.FromSeconds(1);

    private const string VersionField = "Version";

    // KEYS[1] the table; ARGV[1] the version of this silo's copy; ARGV[2] this silo's own row;
    // then the copy's rows as field, value pairs.
    private const string RestoreScript = """
        local current = tonumber(redis.call('HGET', KEYS[1], 'Version') or '-1')
        local seen = tonumber(ARGV[1])
        local restored = 0
        for i = 3, #ARGV, 2 do
          if current < seen or ARGV[i] == ARGV[2] then
            restored = restored + redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1])
          end
        end
        if current < seen or restored > 0 then
          redis.call('HSET', KEYS[1], 'Version', tostring(math.max(current, seen) + 1))
        end
        return restored
        """;

    private readonly RedisKey _table = redisOptions.Value.CreateRedisKey(clusterOptions.Value);
    private readonly RedisValue _ownRow = silo.SiloAddress.ToString();
    private long _seenVersion = -1;
    private HashEntry[] _copy = [];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // A connection of its own that keeps trying while Redis is away (no abort on a failed
        // connect), every half second: the default backoff grows to 10 s between attempts after a
        // long outage, and a lost table must be put back before the next silo death needs it.
        var connection = redisOptions.Value.ConfigurationOptions!.Clone();
        connection.AbortOnConnectFail = false;
        connection.ReconnectRetryPolicy = new LinearRetry(500);
        await using var redis = await ConnectionMultiplexer.ConnectAsync(connection);
        var db = redis.GetDatabase();
        using var timer = new PeriodicTimer(CheckPeriod);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await CheckAsync(db);
                }
                catch (Exception ex) when (ex is RedisException or TimeoutException)
                {
                    // Redis is away: nothing can be checked or restored until it is back.
                    LogUnreachable(ex.Message);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task CheckAsync(IDatabase db)
    {
        var rows = await db.HashGetAllAsync(_table);
        var version = rows.FirstOrDefault(r => r.Name == VersionField).Value is { HasValue: true } v && long.TryParse(v.ToString(), out var parsed) ? parsed : -1;
        var ownRowLost = _copy.Any(r => r.Name == _ownRow) && !rows.Any(r => r.Name == _ownRow);
        if (version >= _seenVersion && !ownRowLost)
        {
            (_seenVersion, _copy) = (version, rows.Where(r => r.Name != VersionField).ToArray());
            return;
        }

        var arguments = new List<RedisValue>(2 + _copy.Length * 2) { _seenVersion, _ownRow };
        foreach (var row in _copy) arguments.AddRange([row.Name, row.Value]);
        var restored = (long)await db.ScriptEvaluateAsync(RestoreScript, [_table], [.. arguments]);
        LogRestored(version, _seenVersion, restored);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Membership table not checked, Redis is unreachable: {Reason}")]
    private partial void LogUnreachable(string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The membership table went back to version {Found} from {Seen} (Redis lost it): restored {Rows} rows from this silo's copy")]
    private partial void LogRestored(long found, long seen, long rows);
}
