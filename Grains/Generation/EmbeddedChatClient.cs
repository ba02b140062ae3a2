using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using Microsoft.ML.Tokenizers;
using static ChatGrains.Generation.EmbeddedSentenceBank;

namespace ChatGrains.Generation;

/// <summary>
/// The reply generator that works offline. It is not a language model and says so: it answers
/// the last user message with 120–250 tokens of text composed from a small sentence bank
/// (<see cref="EmbeddedSentenceBank"/>), chosen by a PRNG seeded from a SHA-256 of the prompt,
/// so the same prompt always gets the same reply.
/// A regenerate (<see cref="SiblingProperty"/> n &gt; 0 in the options) seeds it from the prompt
/// and n, so each sibling reads differently and the same sibling always the same.
/// The reply is cut where a real model (o200k_base) would cut it and streamed one token per
/// update, paced at <see cref="GeneratorOptions.TokensPerSecond"/> by a <see cref="TokenPacer"/>.
/// </summary>
public sealed class EmbeddedChatClient(IOptions<GeneratorOptions> generatorOptions, TimeProvider? timeProvider = null) : IChatClient
{
    public const string ProviderName = "embedded";
    public const string ModelId = "chatgrains-embedded";

    /// <summary>
    /// The <see cref="ChatOptions.AdditionalProperties"/> key that says how many replies to the
    /// same prompt came before this one (absent or 0 for a first answer).
    /// </summary>
    public const string SiblingProperty = "chatgrains.sibling";

    private readonly double _tokensPerSecond = generatorOptions.Value.TokensPerSecond;
    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;
    private readonly TokenPacer _pacer = new(timeProvider ?? TimeProvider.System);
    private readonly ChatClientMetadata _metadata = new(ProviderName, providerUri: null, defaultModelId: ModelId);

    public Task<ChatResponse> GetResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        StreamAsync(PromptOf(messages), SiblingOf(options), paced: false, cancellationToken).ToChatResponseAsync(cancellationToken);

    public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        StreamAsync(PromptOf(messages), SiblingOf(options), paced: _tokensPerSecond > 0 && double.IsFinite(_tokensPerSecond), cancellationToken);

    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(ChatClientMetadata)) return _metadata;
        return serviceType.IsInstanceOfType(this) ? this : null;
    }

    public void Dispose() => _pacer.Dispose();

    /// <summary>The full reply to <paramref name="prompt"/>; the same prompt always gives the same text.</summary>
    public static string ComposeReply(string prompt) => string.Concat(ComposeParts(prompt));

    /// <summary>The reply to <paramref name="prompt"/> as its <paramref name="sibling"/>-th regenerate (0: the first answer).</summary>
    public static string ComposeRegenerate(string prompt, int sibling) => string.Concat(ComposeParts(prompt, sibling));

    private static int SiblingOf(ChatOptions? options) =>
        options?.AdditionalProperties?.TryGetValue(SiblingProperty, out var n) == true && n is int i ? i : 0;

    /// <summary>
    /// The reply to <paramref name="prompt"/> as o200k tokens: exactly what <see cref="SplitIntoTokens"/>
    /// makes of <see cref="ComposeReply"/>, at a fraction of the cost. The reply is made of parts
    /// that meet where the tokenizer's pre-tokenizer splits anyway (before a space that starts a
    /// word, after a line break), so each part is tokenized alone; every part but the echo of the
    /// prompt comes from the sentence bank, and its tokens are worked out once per process.
    /// (Tokenizing each whole reply, with a thousand replies starting every few seconds, was
    /// about a tenth of a busy node's profile samples.)
    /// </summary>
    internal static List<string> ComposeTokens(string prompt, int sibling = 0)
    {
        var tokens = new List<string>(256);
        var parts = ComposeParts(prompt, sibling);
        for (var i = 0; i < parts.Count; i++)
        {
            tokens.AddRange(i == EchoPart ? SplitIntoTokens(parts[i]) : BankTokens(parts[i]));
        }
        return tokens;
    }

    // The part that quotes the prompt; every other part is bank text.
    private const int EchoPart = 1;

    private static readonly ConcurrentDictionary<string, string[]> BankPieces = new();

    private static string[] BankTokens(string part) => BankPieces.GetOrAdd(part, static p => [.. SplitIntoTokens(p)]);

    /// <summary>
    /// The reply as parts whose concatenation is the text: the opening, the echo, one part per
    /// body sentence, the summary heading, one part per bullet, the closing. A space between two
    /// sentences opens the next part; line breaks close the part they follow.
    /// </summary>
    private static List<string> ComposeParts(string prompt, int sibling = 0)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        // A regenerate's dice are seeded from the prompt and its position among the siblings;
        // it still quotes the prompt itself.
        var random = new SplitMix64(SHA256.HashData(Encoding.UTF8.GetBytes(sibling > 0 ? $"{prompt}\0{sibling}" : prompt)));

        // Every random choice is drawn up front, in a fixed order, so the reply depends on the
        // prompt alone and not on how many sentences the length target ends up needing.
        var opening = Pick(Openings, ref random);
        var echo = EchoOf(prompt, ref random);
        var body = Shuffled(BodySentences, ref random);
        var heading = Pick(SummaryHeadings, ref random);
        var bullets = Shuffled(Bullets, ref random)[..3];
        var closing = Pick(Closings, ref random);
        var targetTokens = 130 + random.Next(81);

        var parts = new List<string>(24) { opening, " " + echo + "\n\n" };
        var frame = new List<string>(5) { heading + "\n" };
        for (var i = 0; i < bullets.Length; i++) frame.Add("- " + bullets[i] + (i == bullets.Length - 1 ? "\n\n" : "\n"));
        frame.Add(closing);

        // Sentences are added until the reply reaches its length.
        var tokens = BankTokens(opening).Length + TokenCounter.Count(parts[EchoPart]) + frame.Sum(p => BankTokens(p).Length);
        var sentences = 0;
        do
        {
            tokens += BankTokens(SentencePart(body, sentences, sentences + 1)).Length;
            sentences++;
        }
        while (sentences < body.Length && tokens < targetTokens);

        for (var i = 0; i < sentences; i++) parts.Add(SentencePart(body, i, sentences));
        parts.AddRange(frame);
        return parts;
    }

    /// <summary>
    /// Body sentence <paramref name="i"/> of <paramref name="count"/>, with the space that leads
    /// into it or the paragraph break that follows it. Three sentences to a paragraph reads like
    /// prose rather than a wall of text; the last one ends the body with a paragraph break.
    /// </summary>
    private static string SentencePart(string[] body, int i, int count)
    {
        var lead = i > 0 && i % 3 != 0 ? " " : "";
        var trail = i == count - 1 || (i + 1) % 3 == 0 ? "\n\n" : "";
        return lead + body[i] + trail;
    }

    /// <summary>
    /// The reply's text cut at o200k token boundaries. A token that ends inside a multi-byte
    /// character is held back and joined to the next, so every piece is whole text and the
    /// pieces concatenate to exactly <paramref name="text"/>.
    /// </summary>
    internal static List<string> SplitIntoTokens(string text)
    {
        var tokenizer = TokenCounter.Tokenizer;
        var pieces = new List<string>();
        var pending = new List<int>();
        var buffer = new char[256];
        foreach (var id in tokenizer.EncodeToIds(text))
        {
            pending.Add(id);
            while (true)
            {
                var status = tokenizer.Decode(pending, buffer, out var idsConsumed, out var charsWritten);
                if (status == OperationStatus.DestinationTooSmall)
                {
                    buffer = new char[buffer.Length * 2];
                    continue;
                }

                // NeedMoreData: the last id stops mid-character; it is decoded with the next one.
                if (charsWritten > 0) pieces.Add(new string(buffer, 0, charsWritten));
                pending.RemoveRange(0, idsConsumed);
                break;
            }
        }

        if (pending.Count > 0) pieces.Add(tokenizer.Decode(pending));
        return pieces;
    }

    private async IAsyncEnumerable<ChatResponseUpdate> StreamAsync(
        string prompt, int sibling, bool paced, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var pieces = ComposeTokens(prompt, sibling);
        var responseId = Guid.NewGuid().ToString("N");
        var createdAt = _time.GetUtcNow();
        var start = _time.GetTimestamp();

        for (var i = 0; i < pieces.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (paced)
            {
                // Token i is due at start + i / rate. Waiting for the schedule rather than a fixed
                // gap after each token keeps a late wake-up from delaying the rest of the reply.
                var wake = _pacer.WhenDue(start + (long)(i / _tokensPerSecond * _time.TimestampFrequency));
                if (!wake.IsCompleted) await wake.WaitAsync(cancellationToken);
            }

            var update = new ChatResponseUpdate(ChatRole.Assistant, pieces[i])
            {
                ResponseId = responseId,
                MessageId = responseId,
                ModelId = ModelId,
                CreatedAt = createdAt,
            };
            if (i == pieces.Count - 1)
            {
                update.FinishReason = ChatFinishReason.Stop;
                update.Contents.Add(new UsageContent(new UsageDetails
                {
                    OutputTokenCount = pieces.Count,
                    TotalTokenCount = pieces.Count,
                }));
            }

            yield return update;
        }
    }

    private static string PromptOf(IEnumerable<ChatMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        return messages.LastOrDefault(m => m.Role == ChatRole.User)?.Text ?? "";
    }

    /// <summary>
    /// A sentence quoting up to three consecutive words of the prompt. Only letters, digits and
    /// combining marks are quoted, so the reply never carries the prompt's Markdown, special
    /// tokens such as "&lt;|endoftext|&gt;", or broken surrogates.
    /// </summary>
    private static string EchoOf(string prompt, ref SplitMix64 random)
    {
        var words = WordsOf(prompt, maxWords: 40, maxRunesPerWord: 16);
        var start = random.Next(Math.Max(words.Count - 2, 1));
        var template = Pick(EchoTemplates, ref random);
        if (words.Count == 0) return Pick(NoWordsLines, ref random);
        var quoted = string.Join(' ', words.Skip(start).Take(3));
        return string.Format(CultureInfo.InvariantCulture, template, quoted);
    }

    private static List<string> WordsOf(string text, int maxWords, int maxRunesPerWord)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        var runes = 0;
        foreach (var rune in text.EnumerateRunes())
        {
            var category = Rune.GetUnicodeCategory(rune);
            var isWordRune = Rune.IsLetterOrDigit(rune)
                || category is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark;
            if (isWordRune)
            {
                if (runes++ < maxRunesPerWord) word.Append(rune.ToString());
                continue;
            }

            if (word.Length > 0)
            {
                words.Add(word.ToString());
                if (words.Count == maxWords) return words;
                word.Clear();
            }

            runes = 0;
        }

        if (word.Length > 0) words.Add(word.ToString());
        return words;
    }

    private static string Pick(string[] choices, ref SplitMix64 random) => choices[random.Next(choices.Length)];

    private static string[] Shuffled(string[] items, ref SplitMix64 random)
    {
        var copy = (string[])items.Clone();
        for (var i = copy.Length - 1; i > 0; i--)
        {
            var j = random.Next(i + 1);
            (copy[i], copy[j]) = (copy[j], copy[i]);
        }

        return copy;
    }

    /// <summary>
    /// SplitMix64: tiny, and defined here, so a prompt's reply cannot change with a runtime
    /// upgrade the way <see cref="Random"/>'s sequence might.
    /// </summary>
    private struct SplitMix64(byte[] seed)
    {
        private ulong _state = BitConverter.ToUInt64(seed, 0);

        public ulong NextUInt64()
        {
            var z = _state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }

        public int Next(int maxExclusive) => (int)(NextUInt64() % (ulong)maxExclusive);
    }
}
