namespace Beyla.Hosting;

/// <summary>
/// One request seen twice: by the kernel (<see cref="Span"/>, the response time the caller
/// waits) and by the service's own handler activity (its execution time). The difference is
/// the time the request waited in the process before and after its handler ran.
/// </summary>
/// <param name="Span">The library's server span.</param>
/// <param name="HandlerStart">When the handler's activity started.</param>
/// <param name="HandlerDuration">How long the handler's activity lasted: the execution time.</param>
public sealed record RequestTiming(HttpSpan Span, DateTimeOffset HandlerStart, TimeSpan HandlerDuration)
{
    /// <summary>The response time: what the caller waited.</summary>
    public TimeSpan ResponseTime => Span.Duration;

    /// <summary>Time before the handler started: queued in sockets, the server and the thread pool.</summary>
    public TimeSpan QueueTime => Clamp(HandlerStart - Span.StartTime);

    /// <summary>Response time not spent in the handler (queueing before it plus writing after it).</summary>
    public TimeSpan OutsideHandler => Clamp(ResponseTime - HandlerDuration);

    private static TimeSpan Clamp(TimeSpan value) => value < TimeSpan.Zero ? TimeSpan.Zero : value;
}
