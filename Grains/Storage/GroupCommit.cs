using System.Threading.Channels;

namespace ChatGrains.Storage;

/// <summary>
/// Writes the commits of both conversation stores: it queues them and has background loops
/// group-commit them. Whatever commits are queued when a loop wakes (up to <see cref="MaxBatch"/>)
/// are offered to the store as one transaction; if that transaction fails, or the store says the
/// commits cannot share one, each commit is written alone, in queue order, so only a faulty
/// commit's caller sees its error and its neighbours still land. Every caller's task completes
/// with its own commit's outcome, and only once that commit is stored (or failed).
/// </summary>
/// <remarks>
/// Loops work in parallel on disjoint sets of conversations (by hash of the id), so one
/// conversation's commits are written in the order they were queued whatever the number of
/// loops, and a commit is never written while an earlier commit of its conversation is still
/// waiting.
/// </remarks>
internal sealed class GroupCommit
{
    // Bounds how long the first caller of a batch waits behind the others.
    private const int MaxBatch = 1000;

    /// <summary>
    /// Writes the commits (one or more, in queue order) in one transaction, all or none: returns
    /// true once it is committed; throws when it failed (nothing written). Returns false, writing
    /// nothing, when these commits cannot share one transaction, which is allowed only for more
    /// than one commit.
    /// </summary>
    public delegate Task<bool> WriteTransaction(IReadOnlyList<ConversationCommit> commits);

    private readonly WriteTransaction _write;
    private readonly Channel<PendingCommit>[] _queues;
    private readonly Task[] _loops;

    public GroupCommit(int writers, WriteTransaction write)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(writers, 1);
        _write = write;
        _queues = [.. Enumerable.Range(0, writers).Select(_ =>
            Channel.CreateUnbounded<PendingCommit>(new UnboundedChannelOptions { SingleReader = true }))];
        _loops = [.. _queues.Select(queue => Task.Run(() => WriteLoopAsync(queue.Reader), CancellationToken.None))];
    }

    /// <summary>
    /// Queues the commit for its conversation's loop; <paramref name="done"/> completes when it is
    /// stored (or failed). False once <see cref="CompleteAsync"/> was called.
    /// </summary>
    public bool TryEnqueue(ConversationCommit commit, out Task done)
    {
        // RunContinuationsAsynchronously: callers' continuations must not run on a writer loop.
        var pending = new PendingCommit(commit, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        done = pending.Done.Task;
        return _queues[(uint)commit.ConversationId.GetHashCode() % _queues.Length].Writer.TryWrite(pending);
    }

    /// <summary>Stops taking commits and completes once everything already queued is written.</summary>
    public Task CompleteAsync()
    {
        foreach (var queue in _queues) queue.Writer.TryComplete();
        return Task.WhenAll(_loops);
    }

    private async Task WriteLoopAsync(ChannelReader<PendingCommit> queue)
    {
        var batch = new List<PendingCommit>(MaxBatch);
        var commits = new List<ConversationCommit>(MaxBatch);
        while (await queue.WaitToReadAsync())
        {
            while (batch.Count < MaxBatch && queue.TryRead(out var pending))
            {
                batch.Add(pending);
                commits.Add(pending.Commit);
            }
            await WriteBatchAsync(batch, commits);
            batch.Clear();
            commits.Clear();
        }
    }

    private async Task WriteBatchAsync(List<PendingCommit> batch, List<ConversationCommit> commits)
    {
        if (batch.Count > 1 && await TryWriteTogetherAsync(commits))
        {
            foreach (var pending in batch) pending.Done.TrySetResult();
            return;
        }

        // The batch was rolled back whole (or never tried). Write each commit alone, in queue
        // order, so only the faulty commit's caller sees the error and its neighbours still land.
        // In PostgreSQL this is also how a deadlock with another silo's writer resolves itself.
        foreach (var pending in batch)
        {
            try
            {
                if (!await _write([pending.Commit])) throw new InvalidOperationException("A single commit must be written or fail.");
                pending.Done.TrySetResult();
            }
            catch (Exception ex)
            {
                pending.Done.TrySetException(ex);
            }
        }
    }

    /// <summary>Whether the batch was committed as one transaction. Its error reaches no caller: each commit is then tried alone.</summary>
    private async Task<bool> TryWriteTogetherAsync(List<ConversationCommit> commits)
    {
        try
        {
            return await _write(commits);
        }
        catch (Exception)
        {
            return false;
        }
    }

    private sealed record PendingCommit(ConversationCommit Commit, TaskCompletionSource Done);
}
