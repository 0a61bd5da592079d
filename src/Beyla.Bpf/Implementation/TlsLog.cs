using Microsoft.Extensions.Logging;

namespace Beyla.Implementation;

internal static partial class TlsLog
{
    [LoggerMessage(110, LogLevel.Debug, "TLS probes attached to {File} ({Probes} probes)")]
    public static partial void Attached(ILogger logger, string file, int probes);

    [LoggerMessage(111, LogLevel.Warning, "TLS probes could not be attached to {File}: {Reason}")]
    public static partial void AttachFailed(ILogger logger, string file, string reason);

    [LoggerMessage(112, LogLevel.Debug, "TLS probes released from {File}: no traced process uses it")]
    public static partial void Released(ILogger logger, string file);
}
