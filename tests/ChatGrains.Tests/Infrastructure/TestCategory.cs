namespace ChatGrains.Tests.Infrastructure;

/// <summary>
/// What a test class needs, as its <c>Category</c> trait, so that a developer can run the fast
/// ones alone (<c>dotnet test --filter Category=Unit</c>) or one kind at a time; <c>.ci/run</c>
/// runs them all. <see cref="EveryTestClassHasACategory"/> keeps new classes from going unlabelled.
/// </summary>
public static class TestCategory
{
    /// <summary>Nothing started but, at most, a fake model server on loopback: seconds in all.</summary>
    public const string Unit = "Unit";

    /// <summary>Both conversation stores, against a throwaway PostgreSQL server and SQLite files.</summary>
    public const string Store = "Store";

    /// <summary>An in-process Orleans test cluster (several silos), without HTTP.</summary>
    public const string Grains = "Grains";

    /// <summary>The service in-process (an embedded silo) over a real socket.</summary>
    public const string Api = "Api";

    /// <summary>Real silo and API host processes, Redis membership and PostgreSQL.</summary>
    public const string Cluster = "Cluster";

    /// <summary>The chat page in a real Chromium, driven by Playwright.</summary>
    public const string Web = "Web";
}
