using System.Diagnostics;
using Beyla.Hosting;

namespace Beyla.ResponseTimeDemo;

/// <summary>The three views of the same requests, in milliseconds.</summary>
internal sealed record Report(
    int RequestsSent,
    int SpansJoined,
    long SpansUnmatched,
    long Lost,
    int SpansInsideClientBounds,
    Percentiles Client,
    Percentiles Beyla,
    Percentiles Handler,
    Percentiles Queue)
{
    public static Report Build(ClientRun[] runs, RequestTiming[] timings, int sent, long unmatched, long lost)
    {
        // A span lies inside its request's client bounds when it sits between the client's
        // own timestamps for the request on the same connection, in order.
        int inside = 0;
        foreach (ClientRun run in runs)
        {
            RequestTiming[] spans = timings.Where(t => t.Span.PeerPort == run.LocalPort).OrderBy(t => t.Span.StartTimestamp).ToArray();
            for (int i = 0; i < Math.Min(spans.Length, run.Requests.Count); i++)
            {
                long spanEnd = spans[i].Span.StartTimestamp + spans[i].Span.DurationNanoseconds * Stopwatch.Frequency / 1_000_000_000;
                if (spans[i].Span.StartTimestamp >= run.Requests[i].Start && spanEnd <= run.Requests[i].End)
                    inside++;
            }
        }
        return new Report(sent, timings.Length, unmatched, lost, inside,
            Percentiles.Of(runs.SelectMany(r => r.Requests).Select(r => Stopwatch.GetElapsedTime(r.Start, r.End).TotalMilliseconds)),
            Percentiles.Of(timings.Select(t => t.ResponseTime.TotalMilliseconds)),
            Percentiles.Of(timings.Select(t => t.HandlerDuration.TotalMilliseconds)),
            Percentiles.Of(timings.Select(t => t.QueueTime.TotalMilliseconds)));
    }

    public void Print(TextWriter output)
    {
        output.WriteLine($"requests sent {RequestsSent}, joined spans {SpansJoined}, unmatched {SpansUnmatched}, lost {Lost}, spans inside the client's bounds {SpansInsideClientBounds}");
        output.WriteLine("                                   p50 ms    p99 ms   mean ms");
        Row(output, "client (what callers wait)", Client);
        Row(output, "Beyla span (response time)", Beyla);
        Row(output, "handler Activity (execution)", Handler);
        Row(output, "queueing before the handler", Queue);
    }

    private static void Row(TextWriter output, string name, Percentiles p) =>
        output.WriteLine($"{name,-32} {p.P50,9:F2} {p.P99,9:F2} {p.Mean,9:F2}");
}
