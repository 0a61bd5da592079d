namespace Beyla.Implementation;

/// <summary>Indexes of the per-CPU "stats" array (STAT_* in bpf/http_event.h).</summary>
internal enum KernelStat : uint
{
    EventsSubmitted = 0,
    EventsLostRingBuffer = 1,
    ConnectionsTracked = 2,
    ResponsesUnmatched = 3,
    TlsWithoutSocket = 4,
    RequestsDropped = 5,
    TlsSocketsByCiphertext = 6,
    TlsSocketsGuessed = 7,
}
