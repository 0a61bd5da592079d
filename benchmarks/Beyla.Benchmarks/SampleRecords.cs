using System.Net;

namespace Beyla.Benchmarks;

/// <summary>The benchmarks' kernel records: a mix of methods, routes, statuses and peers.</summary>
internal static class SampleRecords
{
    /// <summary><paramref name="count"/> raw <c>http_span_event</c> records.</summary>
    public static List<byte[]> Create(int count)
    {
        string[] paths = ["/api/users/42", "/api/orders", "/health", "/static/app.js", "/api/users/42/orders?page=2"];
        int[] statuses = [200, 201, 404, 500, 200];
        var records = new List<byte[]>(count);
        for (int i = 0; i < count; i++)
        {
            records.Add(EventRecords.EncodeHttpSpan(new HttpSpan
            {
                Method = i % 3 == 0 ? "POST" : "GET",
                Path = paths[i % paths.Length].Split('?')[0],
                QueryString = paths[i % paths.Length].Contains('?', StringComparison.Ordinal) ? "page=2" : null,
                StatusCode = statuses[i % statuses.Length],
                DurationNanoseconds = 1_000_000 + i,
                RequestBytes = 120,
                ResponseBytes = 512,
                ProcessId = 1234,
                ThreadId = 1235,
                LocalAddress = IPAddress.Loopback,
                LocalPort = 8080,
                PeerAddress = IPAddress.Loopback,
                PeerPort = 40000 + (i % 1000),
                StartTimestamp = 1_000_000_000 + i,
            }));
        }
        return records;
    }
}
