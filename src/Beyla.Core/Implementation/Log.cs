using Microsoft.Extensions.Logging;

namespace Beyla.Implementation;

internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Warning, "Sink {Sink} threw {ExceptionType}; further failures of this kind are counted, not logged.")]
    public static partial void SinkFailed(ILogger logger, string sink, string exceptionType, Exception exception);

    [LoggerMessage(2, LogLevel.Warning, "Event source {Source} failed; its spans stop here.")]
    public static partial void SourceFailed(ILogger logger, string source, Exception exception);

    [LoggerMessage(4, LogLevel.Warning, "The pipeline did not drain within {Seconds} s of the stop (a sink or consumer does not return); the tracer is disposed without waiting for it.")]
    public static partial void DrainAbandoned(ILogger logger, double seconds);

    [LoggerMessage(3, LogLevel.Debug, "Record from {Source} not decoded: {Error}; further ones are counted, not logged.")]
    public static partial void RecordMalformed(ILogger logger, string source, DecodeError error);
}
