namespace Beyla.Exporters;

/// <summary>Settings of a <see cref="PrometheusExporter"/>.</summary>
public sealed class PrometheusExporterOptions : MetricsOptions
{
    /// <summary>
    /// The address the <c>/metrics</c> endpoint listens on. Default <c>127.0.0.1</c>
    /// (loopback only); <c>*</c> or <c>0.0.0.0</c> listens on every address.
    /// </summary>
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>The endpoint's TCP port. Default 9400.</summary>
    public int Port { get; set; } = 9400;

    /// <summary>
    /// Serve the endpoint over HTTP when a tracer starts. Default true; set false to serve
    /// <see cref="PrometheusExporter.WriteMetrics"/> from the host's own web server instead.
    /// </summary>
    public bool ServeHttp { get; set; } = true;

    internal new void Validate()
    {
        base.Validate();
        ArgumentException.ThrowIfNullOrWhiteSpace(Host);
        if (Port is < 1 or > 65535)
            throw new ArgumentOutOfRangeException(nameof(Port), Port, "must be a TCP port from 1 to 65535");
    }
}
