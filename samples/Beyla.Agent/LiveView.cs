using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Beyla.Agent;

/// <summary>
/// RED per route on the console, redrawn in place once a second: rate over the last
/// <see cref="Window"/>, error ratio (5xx, and no response) and p50/p99 response time, plus
/// the tracer's own counters. Thread-safe: spans come from the consumer loop, drawing from a timer.
/// </summary>
internal sealed class LiveView : IDisposable
{
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(10);
    private const int MaxSamplesPerRoute = 20_000;
    private const int MaxRows = 30;

    private readonly Dictionary<(HttpSpanKind Kind, string Service, string Method, string Route), RouteStats> _routes = [];
    private readonly Lock _lock = new();
    private readonly Func<TracerStatistics> _statistics;
    private readonly TextWriter _output;
    private readonly Timer _timer;
    private readonly long _started = Stopwatch.GetTimestamp();
    private long _spans;
    private int _lastLines;

    public LiveView(Func<TracerStatistics> statistics, TextWriter output)
    {
        _statistics = statistics;
        _output = output;
        _timer = new Timer(_ => Draw(), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
    }

    public void Add(HttpSpan span)
    {
        long now = Stopwatch.GetTimestamp();
        lock (_lock)
        {
            _spans++;
            var key = (span.Kind, span.ServiceName, span.Method, span.Route);
            if (!_routes.TryGetValue(key, out RouteStats? stats))
                _routes[key] = stats = new RouteStats();
            stats.Add(now, span.DurationNanoseconds / 1e6, span.StatusCode == 0 || span.StatusCode >= 500);
        }
    }

    /// <summary>Draws the view now (the last frame, before exiting).</summary>
    public void Draw()
    {
        string frame = Render(Stopwatch.GetTimestamp());
        lock (_output)
        {
            // Move up over the previous frame and overwrite it: no scrolling, no flicker.
            if (_lastLines > 0)
                _output.Write($"\u001b[{_lastLines}F");
            _output.Write(frame);
            _output.Write("\u001b[J");
            _output.Flush();
            _lastLines = frame.Count(c => c == '\n');
        }
    }

    internal string Render(long now)
    {
        var text = new StringBuilder();
        TracerStatistics s = _statistics();
        double elapsed = Stopwatch.GetElapsedTime(_started, now).TotalSeconds;
        lock (_lock)
        {
            text.Append(CultureInfo.InvariantCulture, $"beyla-agent  {elapsed,6:F0} s  spans {_spans}  lost {s.TotalLost + s.SpansDroppedForSlowConsumers}  routes overflowed {s.RoutesOverflowed}\u001b[K\n");
            text.Append(CultureInfo.InvariantCulture, $"{"kind",-6} {"service",-16} {"method",-7} {"route",-32} {"req/s",8} {"errors",7} {"p50 ms",9} {"p99 ms",9}\u001b[K\n");
            var rows = _routes
                .Select(r => (r.Key, Window: r.Value.Summarize(now, Window)))
                .Where(r => r.Window.Count > 0)
                .OrderByDescending(r => r.Window.Count)
                .Take(MaxRows);
            foreach (var ((kind, service, method, route), w) in rows)
            {
                double seconds = Math.Min(Window.TotalSeconds, Math.Max(elapsed, 1));
                text.Append(CultureInfo.InvariantCulture,
                    $"{(kind == HttpSpanKind.Server ? "server" : "client"),-6} {Clip(service, 16),-16} {Clip(method, 7),-7} {Clip(route, 32),-32} {w.Count / seconds,8:F1} {w.ErrorRatio,7:P1} {w.P50,9:F2} {w.P99,9:F2}\u001b[K\n");
            }
        }
        return text.ToString();
    }

    private static string Clip(string value, int width) => value.Length <= width ? value : value[..(width - 1)] + "…";

    public void Dispose() => _timer.Dispose();

    /// <summary>Recent samples of one route: (timestamp, milliseconds, error).</summary>
    private sealed class RouteStats
    {
        private readonly Queue<(long At, double Ms, bool Error)> _samples = new();

        public void Add(long at, double ms, bool error)
        {
            if (_samples.Count >= MaxSamplesPerRoute)
                _samples.Dequeue();
            _samples.Enqueue((at, ms, error));
        }

        public (int Count, double ErrorRatio, double P50, double P99) Summarize(long now, TimeSpan window)
        {
            while (_samples.Count > 0 && Stopwatch.GetElapsedTime(_samples.Peek().At, now) > window)
                _samples.Dequeue();
            if (_samples.Count == 0)
                return (0, 0, 0, 0);
            double[] sorted = [.. _samples.Select(x => x.Ms).Order()];
            double At(double q) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];
            return (sorted.Length, _samples.Count(x => x.Error) / (double)sorted.Length, At(0.5), At(0.99));
        }
    }
}
