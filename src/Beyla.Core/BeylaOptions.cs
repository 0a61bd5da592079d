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

    /// <summary>How often process selections by port or executable name are re-resolved. Default 1 s.</summary>
    public TimeSpan ProcessRescanInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Size of the kernel ring buffer in bytes (a power of two, at least 4 KiB). Default 4 MiB.</summary>
    public int RingBufferBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>
    /// Also trace HTTPS through OpenSSL (uprobes on SSL_read/SSL_write in the libssl a
    /// traced process maps, or in its executable). Default on.
    /// </summary>
    public bool TraceTls { get; set; } = true;

    /// <summary>Connections tracked at once in the kernel (least recently used ones are evicted). Default 16,384.</summary>
    public int MaxTrackedConnections { get; set; } = 16_384;

    internal BeylaOptions Clone() => (BeylaOptions)MemberwiseClone();

    internal void Validate()
    {
        if (ConsumerBufferCapacity < 1)
            throw new ArgumentOutOfRangeException(nameof(ConsumerBufferCapacity), ConsumerBufferCapacity, "must be at least 1");
        if (ProcessRescanInterval <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(ProcessRescanInterval), ProcessRescanInterval, "must be positive");
        if (RingBufferBytes < 4096 || (RingBufferBytes & (RingBufferBytes - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(RingBufferBytes), RingBufferBytes, "must be a power of two of at least 4096");
        if (MaxTrackedConnections < 64)
            throw new ArgumentOutOfRangeException(nameof(MaxTrackedConnections), MaxTrackedConnections, "must be at least 64");
    }
}
