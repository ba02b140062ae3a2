using System.Buffers;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using Microsoft.ML.Tokenizers;

namespace ChatGrains.Generation;

/// <summary>
/// The reply generator that works offline. It is not a language model and says so: it answers
/// the last user message with 120–250 tokens of text composed from a small sentence bank, chosen
/// by a PRNG seeded from a SHA-256 of the prompt, so the same prompt always gets the same reply.
/// The reply is cut where a real model (o200k_base) would cut it and streamed one token per
/// update, paced at <see cref="GeneratorOptions.TokensPerSecond"/>.
/// </summary>
public sealed class EmbeddedChatClient(IOptions<GeneratorOptions> generatorOptions, TimeProvider? timeProvider = null) : IChatClient
{
    public const string ProviderName = "embedded";
    public const string ModelId = "chatgrains-embedded";

    private readonly double _tokensPerSecond = generatorOptions.Value.TokensPerSecond;
    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;
    private readonly ChatClientMetadata _metadata = new(ProviderName, providerUri: null, defaultModelId: ModelId);

    public Task<ChatResponse> GetResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        StreamAsync(PromptOf(messages), paced: false, cancellationToken).ToChatResponseAsync(cancellationToken);

    public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        StreamAsync(PromptOf(messages), paced: _tokensPerSecond > 0 && double.IsFinite(_tokensPerSecond), cancellationToken);

    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(ChatClientMetadata)) return _metadata;
        return serviceType.IsInstanceOfType(this) ? this : null;
    }

    public void Dispose()
    {
    }

    /// <summary>The full reply to <paramref name="prompt"/>; the same prompt always gives the same text.</summary>
    public static string ComposeReply(string prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        var random = new SplitMix64(SHA256.HashData(Encoding.UTF8.GetBytes(prompt)));

        // Every random choice is drawn up front, in a fixed order, so the reply depends on the
        // prompt alone and not on how many sentences the length target ends up needing.
        var opening = Pick(Openings, ref random);
        var echo = EchoOf(prompt, ref random);
        var body = Shuffled(BodySentences, ref random);
        var heading = Pick(SummaryHeadings, ref random);
        var bullets = Shuffled(Bullets, ref random)[..3];
        var closing = Pick(Closings, ref random);
        var targetTokens = 130 + random.Next(81);

        // Sentences are added until the reply reaches its length. Each piece is counted once and
        // the counts summed (tokens do not span the spaces and line breaks between the pieces),
        // rather than counting the whole reply again for every sentence added: that was a tenth
        // of a busy silo's CPU with a thousand replies starting every few seconds.
        var tokens = TokenCounter.Count(Assemble(opening, echo, [], heading, bullets, closing));
        var sentences = 0;
        do
        {
            tokens += TokenCounter.Count(Separator(sentences) + body[sentences]);
            sentences++;
        }
        while (sentences < body.Length && tokens < targetTokens);
        return Assemble(opening, echo, body.AsSpan(0, sentences), heading, bullets, closing);
    }

    // Three sentences to a paragraph reads like prose rather than a wall of text.
    private static string Separator(int sentence) => sentence == 0 ? "" : sentence % 3 == 0 ? "\n\n" : " ";

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
        string prompt, bool paced, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var pieces = SplitIntoTokens(ComposeReply(prompt));
        var responseId = Guid.NewGuid().ToString("N");
        var createdAt = _time.GetUtcNow();
        var start = _time.GetTimestamp();

        for (var i = 0; i < pieces.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (paced)
            {
                // Token i is due at start + i / rate. Waiting for the schedule rather than a fixed
                // gap after each token keeps timer overshoot from adding up over the reply.
                var wait = TimeSpan.FromSeconds(i / _tokensPerSecond) - _time.GetElapsedTime(start);
                if (wait > TimeSpan.Zero)
                {
                    // Timers count whole milliseconds; rounding up means a token is never early.
                    await Task.Delay(TimeSpan.FromMilliseconds(Math.Ceiling(wait.TotalMilliseconds)), _time, cancellationToken);
                }
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

    private static string Assemble(
        string opening, string echo, ReadOnlySpan<string> body, string heading, string[] bullets, string closing)
    {
        var text = new StringBuilder();
        text.Append(opening).Append(' ').Append(echo).Append("\n\n");
        for (var i = 0; i < body.Length; i++) text.Append(Separator(i)).Append(body[i]);

        text.Append("\n\n").Append(heading).Append('\n');
        foreach (var bullet in bullets) text.Append("- ").Append(bullet).Append('\n');
        text.Append('\n').Append(closing);
        return text.ToString();
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

    private static readonly string[] Openings =
    [
        "I'm the embedded offline generator of ChatGrains — not a language model.",
        "Hello! I'm the embedded offline generator of ChatGrains, and I am not a language model.",
        "A quick note first: I'm the embedded offline generator of ChatGrains — not a language model, and not an assistant that understands you.",
        "This reply comes from the embedded offline generator of ChatGrains. I am not a language model.",
    ];

    private static readonly string[] EchoTemplates =
    [
        "Your message mentions \"{0}\"; I can repeat that, but I cannot tell what it means.",
        "I noticed \"{0}\" in what you wrote, and echoing it back is as far as my understanding goes.",
        "You wrote \"{0}\", among other things, and I have no way to reason about it.",
        "\"{0}\" caught my eye, but only in the sense that I copied it here.",
    ];

    private static readonly string[] NoWordsLines =
    [
        "Your message had no words I could pick out, so there is nothing for me to echo back.",
        "I could not find a single word to quote from your message, which changes nothing about what follows.",
    ];

    private static readonly string[] BodySentences =
    [
        "This reply is assembled from a small bank of sentences, picked by a pseudo-random generator seeded with a SHA-256 hash of your message.",
        "Send exactly the same message again and you will get exactly the same reply, word for word.",
        "The text is cut along the same token boundaries a real model would use, and each token is streamed to your browser on its own.",
        "The pace comes from the Generator:TokensPerSecond setting, so the stream looks like a model typing.",
        "Everything happens inside the service: no request leaves the machine, and no API key or model weights are needed.",
        "That makes me useful for demos, tests and working offline, when the point is to watch the plumbing rather than to read clever answers.",
        "To get real answers, point the Generator section of the configuration at a model endpoint and choose another provider.",
        "Until then, please treat what I write as placeholder text with a predictable shape.",
        "I do not remember earlier messages, and nothing in this conversation teaches me anything.",
        "Nothing here is advice, a fact about the world, or an opinion; it is filler chosen by dice that always land the same way for the same prompt.",
        "A reply like this one is usually somewhere between one hundred and twenty and two hundred and fifty tokens long.",
        "A longer or cleverer prompt does not make me smarter; it only changes which sentences are picked and in what order.",
        "If you were hoping for a thoughtful answer, that is a fair wish, and a real model is the right tool for it.",
        "Even so, every token you see travelled the same path a model's token would, which is exactly what this generator is for.",
        "The same seed also decides the order of these sentences, so two different prompts rarely read alike.",
        "You can keep chatting as long as you like; I will stay just as honest and just as uninformed.",
    ];

    private static readonly string[] SummaryHeadings = ["**In short:**", "**To sum up:**", "**What to expect from me:**"];

    private static readonly string[] Bullets =
    [
        "**Offline:** no network, no API key, no model weights.",
        "**Deterministic:** the same message always gets the same reply.",
        "**Streamed:** the text arrives token by token, like a real model's.",
        "**Paced:** the speed is set by `Generator:TokensPerSecond`.",
        "**Honest:** I do not read or understand your message.",
        "**Replaceable:** set `Generator:Provider` to use a real model instead.",
    ];

    private static readonly string[] Closings =
    [
        "Thanks for trying ChatGrains!",
        "Send another message to see a different arrangement.",
        "That is all I have — happy testing.",
        "Until a real model is configured, this is the best I can do.",
    ];
}
