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
        // A server on a private address answering 250 clients (one in ten over IPv6), and a
        // tenth of the spans on loopback: as on a real host, not only loopback.
        IPAddress server = IPAddress.Parse("10.0.0.5");
        IPAddress server6 = IPAddress.Parse("fd00::5");
        var records = new List<byte[]>(count);
        for (int i = 0; i < count; i++)
        {
            int client = i % 250;
            bool v6 = client % 10 == 9;
            bool loopback = i % 10 == 3;
            IPAddress local = loopback ? IPAddress.Loopback : v6 ? server6 : server;
            IPAddress peer = loopback ? IPAddress.Loopback
                : v6 ? IPAddress.Parse($"fd00::1:{client:x}")
                : new IPAddress([10, 0, (byte)(1 + client / 200), (byte)(client % 200 + 1)]);
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
                LocalAddress = local,
                LocalPort = 8080,
                PeerAddress = peer,
                PeerPort = 40000 + (i % 1000),
                StartTimestamp = 1_000_000_000 + i,
            }));
        }
        return records;
    }
}
