using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using Beyla.Interop;

namespace Beyla.Implementation;

/// <summary>
/// The inodes of the TCP sockets (IPv4 and IPv6) that listen on given ports. The kernel is asked
/// over NETLINK_SOCK_DIAG for listening sockets only. /proc/net/tcp would answer too, but each read
/// of it walks every bucket of the established-connection hash table (262,144 buckets on a 24 GiB
/// machine, however few connections there are), for tcp and tcp6 alike: that was a third of an
/// idle agent's CPU. /proc/net/tcp{,6} remain the fallback when netlink is not available.
/// </summary>
internal static class ListeningSockets
{
    private const int AfNetlink = 16;
    private const int AfInet = 2;
    private const int AfInet6 = 10;
    private const int SockDgram = 2;
    private const int SockCloexec = 0x80000;
    private const int NetlinkSockDiag = 4;
    private const int IpProtoTcp = 6;
    private const ushort SockDiagByFamily = 20;
    private const ushort NlmsgError = 2;
    private const ushort NlmsgDone = 3;
    private const ushort NlmFRequest = 0x1;
    private const ushort NlmFDump = 0x300;
    private const byte TcpListen = 10;
    private const int HeaderSize = 16;   // struct nlmsghdr
    private const int RequestSize = 56;  // struct inet_diag_req_v2
    private const int DiagMessageSize = 72; // struct inet_diag_msg

    /// <summary>Inodes of the TCP sockets listening on any of <paramref name="ports"/>.</summary>
    /// <param name="ports">Local ports, host order.</param>
    /// <param name="procRoot">Where proc is mounted; the kernel is asked directly only for the real one.</param>
    public static HashSet<long> Find(IReadOnlyCollection<int> ports, string procRoot = "/proc")
    {
        var inodes = new HashSet<long>();
        if (procRoot == "/proc" && TryAskKernel(ports, inodes))
            return inodes;
        inodes.Clear();
        ReadProcTables(ports, procRoot, inodes);
        return inodes;
    }

    /// <summary>The sock_diag dump of listening TCP sockets, IPv4 then IPv6; false when netlink fails.</summary>
    internal static unsafe bool TryAskKernel(IReadOnlyCollection<int> ports, HashSet<long> inodes)
    {
        int fd = LibC.Socket(AfNetlink, SockDgram | SockCloexec, NetlinkSockDiag);
        if (fd < 0)
            return false;
        using var socket = new FileDescriptorHandle(fd);
        byte[] buffer = new byte[32 * 1024];
        fixed (byte* data = buffer)
        {
            uint sequence = 0;
            foreach (int family in (ReadOnlySpan<int>)[AfInet, AfInet6])
            {
                if (!Send(socket.Fd, family, ++sequence))
                    return false;
                bool? done = Receive(socket.Fd, data, buffer.Length, sequence, ports, inodes);
                // an error for IPv6 (a kernel without it): no IPv6 listeners; for IPv4: fall back
                if (done is null && family == AfInet6)
                    continue;
                if (done != true)
                    return false;
            }
        }
        return true;
    }

    private static unsafe bool Send(int fd, int family, uint sequence)
    {
        byte* request = stackalloc byte[HeaderSize + RequestSize];
        var message = new Span<byte>(request, HeaderSize + RequestSize);
        message.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(message, HeaderSize + RequestSize);
        BinaryPrimitives.WriteUInt16LittleEndian(message[4..], SockDiagByFamily);
        BinaryPrimitives.WriteUInt16LittleEndian(message[6..], NlmFRequest | NlmFDump);
        BinaryPrimitives.WriteUInt32LittleEndian(message[8..], sequence);
        message[HeaderSize] = (byte)family;
        message[HeaderSize + 1] = IpProtoTcp;
        BinaryPrimitives.WriteUInt32LittleEndian(message[(HeaderSize + 4)..], 1u << TcpListen); // idiag_states
        // struct sockaddr_nl: the kernel (port id 0)
        byte* address = stackalloc byte[12];
        new Span<byte>(address, 12).Clear();
        address[0] = AfNetlink;
        while (true)
        {
            nint sent = LibC.SendTo(fd, request, HeaderSize + RequestSize, 0, address, 12);
            if (sent == HeaderSize + RequestSize)
                return true;
            if (sent >= 0 || Marshal.GetLastPInvokeError() != LibC.EINTR)
                return false;
        }
    }

    /// <summary>Reads one dump: true at its end, null when the kernel answered with an error, false when the socket failed or a message made no sense.</summary>
    private static unsafe bool? Receive(int fd, byte* data, int capacity, uint sequence, IReadOnlyCollection<int> ports, HashSet<long> inodes)
    {
        while (true)
        {
            nint received = LibC.Recv(fd, data, (nuint)capacity, 0);
            if (received < 0)
            {
                if (Marshal.GetLastPInvokeError() == LibC.EINTR)
                    continue;
                return false;
            }
            if (received == 0)
                return false;
            var messages = new ReadOnlySpan<byte>(data, (int)received);
            while (messages.Length >= HeaderSize)
            {
                int length = (int)BinaryPrimitives.ReadUInt32LittleEndian(messages);
                if (length < HeaderSize || length > messages.Length)
                    return false;
                ushort type = BinaryPrimitives.ReadUInt16LittleEndian(messages[4..]);
                uint seq = BinaryPrimitives.ReadUInt32LittleEndian(messages[8..]);
                if (seq == sequence)
                {
                    if (type == NlmsgDone)
                        return true;
                    if (type == NlmsgError)
                        return null;
                    if (type == SockDiagByFamily && length >= HeaderSize + DiagMessageSize)
                    {
                        ReadOnlySpan<byte> socket = messages.Slice(HeaderSize, DiagMessageSize);
                        int port = BinaryPrimitives.ReadUInt16BigEndian(socket[4..]);
                        if (socket[1] == TcpListen && ports.Contains(port))
                            inodes.Add(BinaryPrimitives.ReadUInt32LittleEndian(socket[68..]));
                    }
                }
                int aligned = (length + 3) & ~3;
                if (aligned >= messages.Length)
                    break;
                messages = messages[aligned..];
            }
        }
    }

    /// <summary>The same from /proc/net/tcp and /proc/net/tcp6 under <paramref name="procRoot"/>.</summary>
    internal static void ReadProcTables(IReadOnlyCollection<int> ports, string procRoot, HashSet<long> inodes)
    {
        foreach (string table in (ReadOnlySpan<string>)["net/tcp", "net/tcp6"])
        {
            string path = Path.Combine(procRoot, table);
            if (!File.Exists(path))
                continue;
            foreach (string line in File.ReadLines(path).Skip(1))
            {
                if (TryParseListening(line, out int port, out long inode) && ports.Contains(port))
                    inodes.Add(inode);
            }
        }
    }

    /// <summary>Parses a /proc/net/tcp line: "sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...".</summary>
    internal static bool TryParseListening(string line, out int port, out long inode)
    {
        port = 0;
        inode = 0;
        string[] fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 10 || fields[3] != "0A")
            return false;
        int colon = fields[1].LastIndexOf(':');
        return colon > 0
            && int.TryParse(fields[1].AsSpan(colon + 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out port)
            && long.TryParse(fields[9], NumberStyles.None, CultureInfo.InvariantCulture, out inode);
    }
}
