using Microsoft.Extensions.Logging;

namespace Beyla.Exporters;

/// <summary>Writes every span through an <see cref="ILogger"/>, one structured entry per span.</summary>
public sealed partial class LoggingSpanSink : ISpanSink
{
    private readonly ILogger _logger;
    private readonly LogLevel _level;

    /// <summary>Creates the sink.</summary>
    /// <param name="logger">Where spans go.</param>
    /// <param name="level">The level of each entry. Default <see cref="LogLevel.Information"/>.</param>
    public LoggingSpanSink(ILogger logger, LogLevel level = LogLevel.Information)
    {
        ArgumentNullException.ThrowIfNull(logger);
        _logger = logger;
        _level = level;
    }

    /// <inheritdoc />
    public void Export(ReadOnlySpan<HttpSpan> spans)
    {
        if (!_logger.IsEnabled(_level))
            return;
        foreach (HttpSpan span in spans)
        {
            LogSpan(_logger, _level, span.Kind, span.ServiceName, span.ProcessId, span.Method, span.Path, span.Route, span.StatusCode,
                span.DurationNanoseconds / 1e6, span.PeerAddress, span.PeerPort);
        }
    }

    [LoggerMessage(EventId = 200, Message = "{Kind} {Service} pid={Pid} {Method} {Path} route={Route} {Status} {DurationMs:F3}ms peer={PeerAddress}:{PeerPort}")]
    private static partial void LogSpan(ILogger logger, LogLevel level, HttpSpanKind kind, string service, int pid, string method, string path, string route,
        int status, double durationMs, System.Net.IPAddress peerAddress, int peerPort);
}
