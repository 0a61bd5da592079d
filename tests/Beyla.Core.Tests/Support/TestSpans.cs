using System.Net;

namespace Beyla.Tests.Support;

/// <summary>Spans with every field set to something recognisable.</summary>
internal static class TestSpans
{
    /// <summary>A positive CLOCK_MONOTONIC time used as a start timestamp.</summary>
    public const long BaseTimestamp = 5_000_000_000_000;

    /// <summary>Server span number <paramref name="i"/>: path <c>/items/{i}</c>, other fields derived from <paramref name="i"/>.</summary>
    public static HttpSpan Numbered(int i, string? query = null) => new()
    {
        Kind = HttpSpanKind.Server,
        Method = i % 3 == 0 ? "POST" : "GET",
        Path = $"/items/{i}",
        QueryString = query,
        StatusCode = 200 + (i % 5),
        StartTimestamp = BaseTimestamp + i * 1_000L,
        DurationNanoseconds = 1_000 + i,
        RequestBytes = 100 + i,
        ResponseBytes = 1_000 + i,
        ProcessId = 4242,
        ThreadId = 4243,
        LocalAddress = IPAddress.Parse("10.0.0.1"),
        LocalPort = 8080,
        PeerAddress = IPAddress.Parse("10.0.0.2"),
        PeerPort = 40_000 + (i % 20_000),
    };
}
