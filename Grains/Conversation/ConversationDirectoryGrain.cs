using ChatGrains.Storage;
using Orleans.Concurrency;

namespace ChatGrains.Conversation;

/// <summary>Lists a user's conversations straight from the store, on whichever silo is nearest.</summary>
[StatelessWorker]
public sealed class ConversationDirectoryGrain(IConversationStore store) : Grain, IConversationDirectoryGrain
{
    public Task<IReadOnlyList<ConversationSummary>> ListAsync(string userId) => store.ListForUserAsync(userId);
}
