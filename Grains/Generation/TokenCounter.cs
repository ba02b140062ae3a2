using Microsoft.ML.Tokenizers;

namespace ChatGrains.Generation;

/// <summary>
/// Counts text the way current OpenAI models do (o200k_base). Other models' tokenizers differ by
/// some percent, which the context budget absorbs; what matters is that the count is real tokens,
/// not characters.
/// </summary>
public static class TokenCounter
{
    // Loading the vocabulary takes a noticeable moment and the tokenizer is thread-safe, so the
    // whole process shares one.
    private static readonly Lazy<TiktokenTokenizer> Shared = new(() => TiktokenTokenizer.CreateForModel("gpt-4o"));

    public static TiktokenTokenizer Tokenizer => Shared.Value;

    public static int Count(string? text) => string.IsNullOrEmpty(text) ? 0 : Shared.Value.CountTokens(text);
}
