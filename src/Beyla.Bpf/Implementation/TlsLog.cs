using Microsoft.Extensions.Logging;

namespace Beyla.Implementation;

internal static partial class TlsLog
{
    [LoggerMessage(110, LogLevel.Debug, "TLS probes attached to {File} for process {Pid} ({Probes} probes; -1: every process)")]
    public static partial void Attached(ILogger logger, string file, int pid, int probes);

    [LoggerMessage(111, LogLevel.Warning, "TLS probes could not be attached to {File} for process {Pid}: {Reason}")]
    public static partial void AttachFailed(ILogger logger, string file, int pid, string reason);

    [LoggerMessage(120, LogLevel.Debug, "TLS probes for {Public} in {File} go on the function both call first ({Function}, at file offset 0x{Offset:x}): their own first instruction would cost a single-step trap at every call")]
    public static partial void InternalEntry(ILogger logger, string file, string @public, string function, ulong offset);

    [LoggerMessage(121, LogLevel.Debug, "TLS probes in {File}: {Function} only jumps to {Target}, whose calls are probed already, and gets no probe of its own")]
    public static partial void TailCall(ILogger logger, string file, string function, string target);

    [LoggerMessage(112, LogLevel.Debug, "TLS probes released from {File} for process {Pid}")]
    public static partial void Released(ILogger logger, string file, int pid);

    [LoggerMessage(113, LogLevel.Warning, "TLS probes could not be brought up to date: {Reason}")]
    public static partial void WorkFailed(ILogger logger, string reason);

    [LoggerMessage(114, LogLevel.Warning, "TLS probes not attached to {File} for process {Pid}, nor to other new processes until the backlog clears: {Pending} probes of processes that have exited still wait to be released")]
    public static partial void ReleaseBacklog(ILogger logger, string file, int pid, int pending);

    [LoggerMessage(116, LogLevel.Information, "TLS probes are perf-event uprobes, which cost a traced process at each of its context switches: {Reason}")]
    public static partial void PerfUprobes(ILogger logger, string reason);

    [LoggerMessage(EventId = 117, Message = "Process {Pid} ({Command}) began a TLS handshake before its TLS probes were in place (attaching them takes the kernel tens of milliseconds): what it sends on that connection before them is not traced")]
    public static partial void HandshakeBeforeProbes(ILogger logger, LogLevel level, int pid, string command);

    [LoggerMessage(EventId = 118, Message = "Process {Pid} ({Command}) began a TLS handshake, but not through an OpenSSL the TLS probes found (Go's crypto/tls, GnuTLS as in wget, Java, rustls, BoringSSL, or OpenSSL without its symbols): its HTTPS is not traced")]
    public static partial void HandshakeWithoutOpenSsl(ILogger logger, LogLevel level, int pid, string command);

    [LoggerMessage(119, LogLevel.Debug, "Process {Pid} ({Command}) began a TLS handshake that no probed SSL call made, though its TLS probes were in place: TLS it relays, or OpenSSL functions the probes do not cover")]
    public static partial void HandshakeNotThroughProbes(ILogger logger, int pid, string command);

    [LoggerMessage(115, LogLevel.Debug, "Process {Pid} maps {Name}, which its memory map does not show yet: its TLS probes wait for the next full check")]
    public static partial void MappedNotSeen(ILogger logger, int pid, string name);
}
