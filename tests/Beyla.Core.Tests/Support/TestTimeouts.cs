namespace Beyla.Tests.Support;

/// <summary>How long a test waits for something that should happen at once, so that a bug fails instead of hanging.</summary>
internal static class TestTimeouts
{
    public static readonly TimeSpan Default = TimeSpan.FromSeconds(10);
}
