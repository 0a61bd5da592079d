namespace Beyla.Implementation;

/// <summary>Layout of <c>struct process_notice_event</c> (bpf/http_event.h).</summary>
internal static class ProcessNotice
{
    public const uint Type = 2;
    public const uint Exec = 1;
    public const uint LibsslOpened = 2;
    public const int PathOffset = 16;
    public const int PathCapacity = 128;
    public const int Size = PathOffset + PathCapacity;
}
