using Microsoft.Extensions.Logging;

namespace Beyla.Exporters;

/// <summary>Adds the exporters of this package to a <see cref="BeylaBuilder"/>; the tracer owns and disposes what they create.</summary>
public static class BeylaBuilderExporterExtensions
{
    /// <summary>Serves RED metrics and health counters for Prometheus (see <see cref="PrometheusExporter"/>), on 127.0.0.1:9400 by default.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="configure">Edits the options.</param>
    /// <param name="logger">Where serving problems are logged.</param>
    /// <returns>The builder.</returns>
    public static BeylaBuilder AddPrometheus(this BeylaBuilder builder, Action<PrometheusExporterOptions>? configure = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = new PrometheusExporterOptions();
        configure?.Invoke(options);
        return builder.AddSink(new PrometheusExporter(options, logger), ownedByTracer: true);
    }

    /// <summary>Publishes spans as activities and RED histograms for the host's OpenTelemetry SDK (see <see cref="OpenTelemetrySpanSink"/>).</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="configure">Edits the options.</param>
    /// <returns>The builder.</returns>
    public static BeylaBuilder AddOpenTelemetry(this BeylaBuilder builder, Action<OpenTelemetrySinkOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = new OpenTelemetrySinkOptions();
        configure?.Invoke(options);
        return builder.AddSink(new OpenTelemetrySpanSink(options), ownedByTracer: true);
    }

    /// <summary>Writes every span through <paramref name="logger"/> (see <see cref="LoggingSpanSink"/>).</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="logger">The logger.</param>
    /// <param name="level">The level of each entry.</param>
    /// <returns>The builder.</returns>
    public static BeylaBuilder AddLogSink(this BeylaBuilder builder, ILogger logger, LogLevel level = LogLevel.Information)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddSink(new LoggingSpanSink(logger, level));
    }
}
