using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Threading.Channels;

namespace Beyla.Hosting;

/// <summary>
/// Joins the library's server spans for this process with the service's own handler
/// activities, request by request, so that queueing time becomes a figure of its own
/// (<see cref="RequestTiming.QueueTime"/>), which in-process instrumentation cannot see. A
/// handler activity is matched by its <c>client.port</c> tag (the connection's remote port;
/// set it, for example <c>activity.SetTag("client.port", context.Connection.RemotePort)</c>)
/// and by starting inside the span. Unmatched activities expire; both sides are bounded.
/// Each joined request's queueing time is also recorded on the histogram
/// <c>http.server.request.queue_time</c> (seconds) of the meter <see cref="MeterName"/>, with
/// the request's method, route and service, for any OpenTelemetry SDK pipeline to export.
/// </summary>
public sealed class HandlerTimingCorrelator : ISpanSink, IDisposable
{
    /// <summary>The tag that carries the client's port on handler activities.</summary>
    public const string ClientPortTag = "client.port";

    /// <summary>The meter of the queueing-time histogram: <c>Beyla</c>, as the exporters' meter.</summary>
    public const string MeterName = "Beyla";

    /// <summary>The queueing-time histogram's name.</summary>
    public const string QueueTimeMetric = "http.server.request.queue_time";

    private const int MaxPendingPerPort = 64;
    private const int MaxPorts = 65_536;
    private static readonly TimeSpan Expiry = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ClockTolerance = TimeSpan.FromMilliseconds(1);

    private readonly ActivityListener _listener;
    private readonly int _processId;
    private readonly Dictionary<int, List<(DateTimeOffset Start, TimeSpan Duration)>> _byPort = [];
    private readonly Lock _lock = new();
    private readonly Channel<RequestTiming> _timings;
    private readonly Meter _meter = new(MeterName);
    private readonly Histogram<double> _queueTime;
    private long _matched;
    private long _unmatchedSpans;
    private long _dropped;

    /// <summary>Listens to the handler activities of one activity source.</summary>
    /// <param name="activitySourceName">The source the service's handler activities come from.</param>
    /// <param name="capacity">Timings buffered for <see cref="ReadAllAsync"/>; beyond it they are dropped and counted.</param>
    public HandlerTimingCorrelator(string activitySourceName, int capacity = 65_536)
    {
        ArgumentException.ThrowIfNullOrEmpty(activitySourceName);
        _processId = Environment.ProcessId;
        _timings = Channel.CreateBounded<RequestTiming>(new BoundedChannelOptions(capacity) { FullMode = BoundedChannelFullMode.DropWrite });
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == activitySourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStopped = OnActivityStopped,
        };
        ActivitySource.AddActivityListener(_listener);
        _queueTime = _meter.CreateHistogram<double>(QueueTimeMetric, "s",
            "Time a request waited in the server before its handler started: the library's response time minus what in-process instrumentation sees");
    }

    /// <summary>Requests joined so far.</summary>
    public long Matched => Interlocked.Read(ref _matched);

    /// <summary>Server spans of this process for which no handler activity was found.</summary>
    public long UnmatchedSpans => Interlocked.Read(ref _unmatchedSpans);

    /// <summary>Timings not buffered because the reader fell behind.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>The joined requests, as they are matched.</summary>
    /// <param name="cancellationToken">Ends the enumeration.</param>
    /// <returns>The timings.</returns>
    public IAsyncEnumerable<RequestTiming> ReadAllAsync(CancellationToken cancellationToken = default) => _timings.Reader.ReadAllAsync(cancellationToken);

    /// <summary>Raised on the pipeline's thread for every joined request; keep it quick.</summary>
    public event Action<RequestTiming>? Correlated;

    /// <inheritdoc />
    public void Export(ReadOnlySpan<HttpSpan> spans)
    {
        foreach (HttpSpan span in spans)
        {
            if (span.Kind != HttpSpanKind.Server || span.ProcessId != _processId)
                continue;
            (DateTimeOffset Start, TimeSpan Duration)? handler = Take(span);
            if (handler is null)
            {
                Interlocked.Increment(ref _unmatchedSpans);
                continue;
            }
            Interlocked.Increment(ref _matched);
            var timing = new RequestTiming(span, handler.Value.Start, handler.Value.Duration);
            if (_queueTime.Enabled)
            {
                _queueTime.Record(timing.QueueTime.TotalSeconds,
                    new KeyValuePair<string, object?>("http.request.method", span.Method),
                    new KeyValuePair<string, object?>("http.route", span.Route),
                    new KeyValuePair<string, object?>("service.name", span.ServiceName));
            }
            if (!_timings.Writer.TryWrite(timing))
                Interlocked.Increment(ref _dropped);
            Correlated?.Invoke(timing);
        }
    }

    private (DateTimeOffset, TimeSpan)? Take(HttpSpan span)
    {
        lock (_lock)
        {
            if (!_byPort.TryGetValue(span.PeerPort, out List<(DateTimeOffset Start, TimeSpan Duration)>? pending))
                return null;
            for (int i = 0; i < pending.Count; i++)
            {
                (DateTimeOffset start, TimeSpan duration) = pending[i];
                if (start >= span.StartTime - ClockTolerance && start <= span.EndTime + ClockTolerance)
                {
                    pending.RemoveAt(i);
                    if (pending.Count == 0)
                        _byPort.Remove(span.PeerPort);
                    return (start, duration);
                }
            }
            return null;
        }
    }

    private void OnActivityStopped(Activity activity)
    {
        if (activity.GetTagItem(ClientPortTag) is not int port)
            return;
        var start = new DateTimeOffset(activity.StartTimeUtc, TimeSpan.Zero);
        lock (_lock)
        {
            if (!_byPort.TryGetValue(port, out List<(DateTimeOffset Start, TimeSpan Duration)>? pending))
            {
                if (_byPort.Count >= MaxPorts)
                    _byPort.Clear();
                _byPort[port] = pending = [];
            }
            DateTimeOffset cutoff = start - Expiry;
            pending.RemoveAll(p => p.Start < cutoff);
            if (pending.Count >= MaxPendingPerPort)
                pending.RemoveAt(0);
            pending.Add((start, activity.Duration));
        }
    }

    /// <summary>Stops listening.</summary>
    public void Dispose()
    {
        _listener.Dispose();
        _meter.Dispose();
        _timings.Writer.TryComplete();
    }
}
