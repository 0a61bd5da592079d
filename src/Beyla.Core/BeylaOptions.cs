namespace Beyla;

/// <summary>Settings of a tracer. The defaults export no query string, header or body.</summary>
public sealed class BeylaOptions
{
    /// <summary>Keep query strings in <see cref="HttpSpan.QueryString"/>. Off by default: they often carry secrets.</summary>
    public bool CaptureQueryString { get; set; }

    /// <summary>
    /// Spans buffered for each <see cref="BeylaTracer.Spans"/> consumer. When a consumer
    /// falls this far behind, further spans for it are dropped and counted in
    /// <see cref="TracerStatistics.SpansDroppedForSlowConsumers"/>. Default 65,536.
    /// </summary>
    public int ConsumerBufferCapacity { get; set; } = 65_536;

    /// <summary>
    /// Spans buffered for each sink. Every sink is fed from a queue of its own on a thread of
    /// its own, so a slow sink delays only itself; when it falls this far behind, further spans
    /// for it are dropped and counted in <see cref="TracerStatistics.SpansDroppedForSlowSinks"/>.
    /// Default 65,536.
    /// </summary>
    public int SinkBufferCapacity { get; set; } = 65_536;

    /// <summary>How often process selections by port or executable name are re-resolved. Default 1 s.</summary>
    public TimeSpan ProcessRescanInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Bytes of kernel ring buffer in all (a power of two, at least 4 KiB), shared evenly by one
    /// ring per online CPU: each ring is the largest power of two within an even share, but at
    /// least 1 MiB (or this, if smaller). Default 16 MiB: about 50,000 spans, which covers a
    /// reader held up for 150 ms at 330,000 spans per second spread over the CPUs (on N CPUs,
    /// 1/N of that for spans that all come from one CPU).
    /// </summary>
    public int RingBufferBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>
    /// Also trace HTTPS through OpenSSL (uprobes on SSL_read/SSL_write in the libssl a
    /// traced process maps, or in its executable). Default on.
    /// </summary>
    public bool TraceTls { get; set; } = true;

    /// <summary>Connections tracked at once in the kernel (least recently used ones are evicted). Default 16,384.</summary>
    public int MaxTrackedConnections { get; set; } = 16_384;

    /// <summary>
    /// Route patterns such as <c>/users/{id}</c> or <c>/static/**</c>, tried in order; the first
    /// that matches a path gives <see cref="HttpSpan.Route"/>. A <c>{name}</c> or <c>*</c>
    /// segment matches one path segment, a final <c>**</c> matches the rest of the path.
    /// Empty by default.
    /// </summary>
    public IList<string> RoutePatterns { get; private set; } = new List<string>();

    /// <summary>How paths that match no pattern become routes. Default <see cref="UnmatchedRouteMode.Heuristic"/>.</summary>
    public UnmatchedRouteMode UnmatchedRoutes { get; set; } = UnmatchedRouteMode.Heuristic;

    /// <summary>
    /// Distinct routes kept for each service from unmatched paths; beyond it, further ones are
    /// reported as the route <c>/**</c> and counted in <see cref="TracerStatistics.RoutesOverflowed"/>.
    /// Bounds metric cardinality whatever paths clients send. Default 100.
    /// </summary>
    public int MaxRoutesPerService { get; set; } = 100;

    /// <summary>
    /// Names the service a process belongs to (<see cref="HttpSpan.ServiceName"/>). Returning
    /// <see langword="null"/>, or leaving this unset, uses the process's command name: as the
    /// kernel read it when the span ended (so a process that has exited since keeps its name),
    /// else from <c>/proc/PID/comm</c> (<c>unknown_service</c> when it cannot be read).
    /// </summary>
    public Func<int, string?>? ServiceNameResolver { get; set; }

    internal BeylaOptions Clone()
    {
        var clone = (BeylaOptions)MemberwiseClone();
        clone.RoutePatterns = new List<string>(RoutePatterns);
        return clone;
    }

    internal void Validate()
    {
        if (ConsumerBufferCapacity < 1)
            throw new ArgumentOutOfRangeException(nameof(ConsumerBufferCapacity), ConsumerBufferCapacity, "must be at least 1");
        if (SinkBufferCapacity < 1)
            throw new ArgumentOutOfRangeException(nameof(SinkBufferCapacity), SinkBufferCapacity, "must be at least 1");
        if (ProcessRescanInterval <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(ProcessRescanInterval), ProcessRescanInterval, "must be positive");
        if (RingBufferBytes < 4096 || (RingBufferBytes & (RingBufferBytes - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(RingBufferBytes), RingBufferBytes, "must be a power of two of at least 4096");
        if (MaxTrackedConnections < 64)
            throw new ArgumentOutOfRangeException(nameof(MaxTrackedConnections), MaxTrackedConnections, "must be at least 64");
        if (MaxRoutesPerService < 1)
            throw new ArgumentOutOfRangeException(nameof(MaxRoutesPerService), MaxRoutesPerService, "must be at least 1");
        if (!Enum.IsDefined(UnmatchedRoutes))
            throw new ArgumentOutOfRangeException(nameof(UnmatchedRoutes), UnmatchedRoutes, "is not a defined mode");
        foreach (string pattern in RoutePatterns)
            Implementation.RoutePattern.Parse(pattern); // throws ArgumentException naming the bad pattern
    }
}
