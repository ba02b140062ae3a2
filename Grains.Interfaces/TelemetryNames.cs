namespace ChatGrains;

/// <summary>
/// The names the silos report their own telemetry under, here so that every host's telemetry
/// wiring (Hosting/TelemetryHosting.cs) can listen to them without seeing the grains.
/// </summary>
public static class TelemetryNames
{
    /// <summary>The conversations' <c>ActivitySource</c> and <c>Meter</c> (replies, tokens, commits).</summary>
    public const string Conversations = "ChatGrains.Conversations";
}
