namespace Beyla.Implementation;

/// <summary>
/// Offsets in <c>struct http_span_event</c> (src/Beyla.Bpf/bpf/http_event.h). The two must
/// change together; a test compiles the header and compares.
/// </summary>
internal static class HttpEventLayout
{
    public const uint TypeHttpSpan = 1;
    public const int HeadCapacity = 224;
    public const int CommCapacity = 16;
    public const int Size = 328;

    public const int Type = 0;
    public const int Kind = 4;
    public const int EndReason = 5;
    public const int Flags = 6;
    public const int StartNs = 8;
    public const int EndNs = 16;
    public const int RequestBytes = 24;
    public const int ResponseBytes = 32;
    public const int Pid = 40;
    public const int Tid = 44;
    public const int Status = 48;
    public const int LocalPort = 50;
    public const int PeerPort = 52;
    public const int HeadLength = 54;
    public const int LocalAddress = 56;
    public const int PeerAddress = 72;
    public const int Head = 88;
    public const int Comm = 312;

    public const ushort FlagIpv6 = 0x1;
    public const ushort FlagTls = 0x2;
}
