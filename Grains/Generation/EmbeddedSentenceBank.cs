namespace ChatGrains.Generation;

/// <summary>
/// What <see cref="EmbeddedChatClient"/> composes its replies from: an opening, a sentence that
/// echoes the prompt (or says it has no words), body sentences, a summary heading with bullets,
/// and a closing. The data only: which of it a reply uses, and in what order, is the client's.
/// </summary>
internal static class EmbeddedSentenceBank
{
    public static readonly string[] Openings =
    [
        "I'm the embedded offline generator of ChatGrains — not a language model.",
        "Hello! I'm the embedded offline generator of ChatGrains, and I am not a language model.",
        "A quick note first: I'm the embedded offline generator of ChatGrains — not a language model, and not an assistant that understands you.",
        "This reply comes from the embedded offline generator of ChatGrains. I am not a language model.",
    ];

    public static readonly string[] EchoTemplates =
    [
        "Your message mentions \"{0}\"; I can repeat that, but I cannot tell what it means.",
        "I noticed \"{0}\" in what you wrote, and echoing it back is as far as my understanding goes.",
        "You wrote \"{0}\", among other things, and I have no way to reason about it.",
        "\"{0}\" caught my eye, but only in the sense that I copied it here.",
    ];

    public static readonly string[] NoWordsLines =
    [
        "Your message had no words I could pick out, so there is nothing for me to echo back.",
        "I could not find a single word to quote from your message, which changes nothing about what follows.",
    ];

    public static readonly string[] BodySentences =
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

    public static readonly string[] SummaryHeadings = ["**In short:**", "**To sum up:**", "**What to expect from me:**"];

    public static readonly string[] Bullets =
    [
        "**Offline:** no network, no API key, no model weights.",
        "**Deterministic:** the same message always gets the same reply.",
        "**Streamed:** the text arrives token by token, like a real model's.",
        "**Paced:** the speed is set by `Generator:TokensPerSecond`.",
        "**Honest:** I do not read or understand your message.",
        "**Replaceable:** set `Generator:Provider` to use a real model instead.",
    ];

    public static readonly string[] Closings =
    [
        "Thanks for trying ChatGrains!",
        "Send another message to see a different arrangement.",
        "That is all I have — happy testing.",
        "Until a real model is configured, this is the best I can do.",
    ];
}
