using Microsoft.Extensions.Logging;

namespace Beyla.Implementation;

internal static partial class SocketLog
{
    [LoggerMessage(100, LogLevel.Information, "Socket probe set attached: {Programs} programs in {Milliseconds:F1} ms, {Processes} processes selected")]
    public static partial void Attached(ILogger logger, int programs, double milliseconds, int processes);

    [LoggerMessage(101, LogLevel.Debug, "Tracing process {Pid}")]
    public static partial void Tracing(ILogger logger, int pid);

    [LoggerMessage(102, LogLevel.Warning, "Process {Pid} cannot be traced: {Reason}")]
    public static partial void PidMapFull(ILogger logger, int pid, string reason);

    [LoggerMessage(103, LogLevel.Debug, "Removed {Count} kernel entries of processes that exited")]
    public static partial void SweptDeadProcesses(ILogger logger, int count);

    [LoggerMessage(104, LogLevel.Warning, "Requests not reported, by reason: {RingFull} with the ring buffer full, {Unmatched} gone by unseen (a response with no request waiting), {TlsWithoutSocket} over TLS on a socket never learned, {QueueFull} beyond a connection's queue, {ProcessExited} in flight when their process exited")]
    public static partial void LostByReason(ILogger logger, long ringFull, long unmatched, long tlsWithoutSocket, long queueFull, long processExited);

    [LoggerMessage(105, LogLevel.Warning, "Process {Pid} ({Command}) moves socket data through io_uring ({Operation}); no syscall hook sees those bytes, so its HTTP over io_uring is not traced")]
    public static partial void IoUringNotTraced(ILogger logger, int pid, string command, string operation);

    [LoggerMessage(106, LogLevel.Information, "This kernel has no io_uring submission tracepoint: a traced program that moves its HTTP through io_uring would go unnoticed")]
    public static partial void IoUringNotObservable(ILogger logger);

    [LoggerMessage(108, LogLevel.Warning, "Process {Pid} ({Command}) speaks HTTP/2 as a {Role}{Transport} (a connection began with its preface): HTTP/2 and gRPC are not traced yet, so its requests on such connections are not reported")]
    public static partial void Http2NotTraced(ILogger logger, int pid, string command, string role, string transport);

    [LoggerMessage(107, LogLevel.Information, "Reads and writes are hooked at {Hooks}")]
    public static partial void DataHooks(ILogger logger, string hooks);
}
