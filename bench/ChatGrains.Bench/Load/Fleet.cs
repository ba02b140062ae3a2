using ChatGrains.Bench.Targets;

namespace ChatGrains.Bench.Load;

/// <summary>The watchers of one measurement: W per conversation, connected, dropped and resumed together.</summary>
public sealed class Fleet(Target target, LoadClient client, List<WatchConnection> watchers)
{
    private readonly Task[] _runs = new Task[watchers.Count];

    public IReadOnlyList<WatchConnection> Watchers => watchers;

    /// <summary>Watchers whose stream is open.</summary>
    public int Open => _runs.Count(r => r is { IsCompleted: false });

    private int _failedToConnect;

    public int FailedToConnect => Volatile.Read(ref _failedToConnect);

    /// <summary>
    /// Creates the watchers and connects them, <paramref name="concurrency"/> at a time, each
    /// resuming from id 0 so it must see every event from the first. The first watcher of each
    /// conversation reports completed replies to the target (ChatGrains then posts the next prompt).
    /// </summary>
    public static async Task<Fleet> ConnectAsync(Target target, LoadClient client, IReadOnlyList<string> conversations, int perConversation,
        Recording recording, int concurrency = 64)
    {
        var watchers = new List<WatchConnection>(conversations.Count * perConversation);
        for (var w = 0; w < perConversation; w++)
        {
            for (var c = 0; c < conversations.Count; c++)
            {
                watchers.Add(new WatchConnection(c, conversations[c], recording, w == 0 ? target.ReplyCompleted : null));
            }
        }
        var fleet = new Fleet(target, client, watchers);
        await fleet.ConnectAsync(Enumerable.Range(0, watchers.Count), concurrency);
        return fleet;
    }

    /// <summary>Connects (or reconnects, from each one's last id) the given watchers; at most <paramref name="concurrency"/> connecting at once, or all at once when 0.</summary>
    public async Task ConnectAsync(IEnumerable<int> which, int concurrency)
    {
        using var gate = new SemaphoreSlim(concurrency > 0 ? concurrency : int.MaxValue);
        var connecting = which.Select(async i =>
        {
            await gate.WaitAsync();
            try
            {
                var connected = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
                _runs[i] = Task.Run(() => watchers[i].RunAsync(target, client, connected));
                if (!await connected.Task) Interlocked.Increment(ref _failedToConnect);
            }
            finally
            {
                gate.Release();
            }
        }).ToList();
        await Task.WhenAll(connecting);
    }

    /// <summary>Every watcher closes its connection at once.</summary>
    public async Task DropAllAsync()
    {
        foreach (var w in watchers) w.Drop();
        await Task.WhenAll(_runs.Where(r => r is not null));
    }

    /// <summary>Waits until every watcher satisfies <paramref name="done"/>; false on timeout.</summary>
    public static async Task<bool> WaitUntilAsync(IEnumerable<WatchConnection> watchers, Func<WatchConnection, bool> done, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var pending = watchers.ToList();
        while (true)
        {
            pending.RemoveAll(w => done(w));
            if (pending.Count == 0) return true;
            if (DateTime.UtcNow > deadline) return false;
            await Task.Delay(20);
        }
    }

    /// <summary>
    /// The end-of-run completeness check: every watcher must reach its conversation's latest id
    /// (every id on the way was already checked to follow the one before).
    /// </summary>
    public async Task<int> VerifyCompleteAsync(Recording recording, TimeSpan timeout)
    {
        var heads = new long[watchers.Max(w => w.Conversation) + 1];
        var ids = watchers.GroupBy(w => w.Conversation).ToDictionary(g => g.Key, g => g.First().ConversationId);
        await Parallel.ForEachAsync(ids, new ParallelOptions { MaxDegreeOfParallelism = 16 },
            async (kv, _) => heads[kv.Key] = await target.LastEventIdAsync(kv.Value));
        var live = watchers.Where((w, i) => _runs[i] is { IsCompleted: false }).ToList();
        await WaitUntilAsync(live, w => Volatile.Read(ref w.LastId) >= heads[w.Conversation], timeout);
        var incomplete = 0;
        foreach (var w in watchers)
        {
            if (Volatile.Read(ref w.LastId) >= heads[w.Conversation]) continue;
            incomplete++;
            recording.Violation($"watcher of {w.ConversationId} ended at id {w.LastId}; the conversation is at {heads[w.Conversation]}");
        }
        return incomplete;
    }
}
