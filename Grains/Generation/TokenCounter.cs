using Microsoft.ML.Tokenizers;

namespace ChatGrains.Generation;

/// <summary>
/// Counts text the way current OpenAI models do (o200k_base). Other models' tokenizers differ by
/// some percent, which the context budget absorbs; what matters is that the count is real tokens,
/// not characters.
/// </summary>
public static class TokenCounter
{
    // BPE merges within one pre-token (roughly a word) in time that grows with the square of its
    // length: a 30,000-character "word" took seconds. Runs without whitespace longer than this
    // are counted in slices, which costs at most a token or so per slice.
    public const int MaxRun = 256;

    // Loading the vocabulary takes a noticeable moment and the tokenizer is thread-safe, so the
    // whole process shares one.
    private static readonly Lazy<TiktokenTokenizer> Shared = new(() => TiktokenTokenizer.CreateForModel("gpt-4o"));

    public static TiktokenTokenizer Tokenizer => Shared.Value;

    public static int Count(string? text)
    {
        if (string.IsNullOrEmpty(text)) return 0;
        var tokenizer = Shared.Value;
        var total = 0;
        var start = 0;
        var run = 0;
        for (var i = 0; i < text.Length; i++)
        {
            run = char.IsWhiteSpace(text[i]) ? 0 : run + 1;
            // Cut after a long run, never between the halves of a surrogate pair.
            if (run < MaxRun || char.IsHighSurrogate(text[i])) continue;
            total += tokenizer.CountTokens(text.AsSpan(start, i + 1 - start));
            start = i + 1;
            run = 0;
        }
        return total + (start < text.Length ? tokenizer.CountTokens(text.AsSpan(start)) : 0);
    }
}
