namespace Beyla.Implementation;

/// <summary>Layout of <c>struct process_notice_event</c> (bpf/http_event.h).</summary>
internal static class ProcessNotice
{
    public const uint Type = 2;
    public const uint Exec = 1;
    public const uint LibsslOpened = 2;
    public const uint IoUring = 3;
    public const uint LibsslMapped = 4;
    public const uint TlsUnprobed = 5;
    public const uint TlsUnprobedProbesInPlace = 1; // TlsUnprobed's detail: the process had TLS probes then
    public const uint TlsUnprobedMapsLibssl = 2;    // TlsUnprobed's detail: the process had mapped a libssl
    public const uint Http2 = 6;
    public const uint Http2Read = 1;     // Http2's detail: the process read the preface (a server)
    public const uint Http2OverTls = 4;  // Http2's detail: in the plaintext of a TLS connection
    public const int PidOffset = 4;
    public const int ReasonOffset = 8;
    public const int DetailOffset = 12;
    public const int PathOffset = 16;
    public const int PathCapacity = 128;
    public const int Size = PathOffset + PathCapacity;

    /// <summary>The name of io_uring opcode <paramref name="opcode"/> (the kernel's <c>IORING_OP_*</c>) among those the probes report.</summary>
    public static string IoUringOperationName(uint opcode) => opcode switch
    {
        1 => "READV",
        2 => "WRITEV",
        4 => "READ_FIXED",
        5 => "WRITE_FIXED",
        9 => "SENDMSG",
        10 => "RECVMSG",
        22 => "READ",
        23 => "WRITE",
        26 => "SEND",
        27 => "RECV",
        47 => "SEND_ZC",
        48 => "SENDMSG_ZC",
        49 => "READ_MULTISHOT",
        58 => "RECV_ZC",
        60 => "READV_FIXED",
        61 => "WRITEV_FIXED",
        _ => $"opcode {opcode}",
    };
}
