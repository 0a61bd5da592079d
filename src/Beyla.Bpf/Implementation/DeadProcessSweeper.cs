using System.Buffers.Binary;
using Beyla.Interop;

namespace Beyla.Implementation;

/// <summary>
/// Removes the kernel state of processes that have exited: their connections (a request in
/// flight when the process died is counted as lost, not left to age out of the LRU map),
/// their queued requests, their sockets' entries and their SSL bookkeeping. With the syscall
/// hooks the kernel sees no close for the sockets of a process that dies, so without this the
/// state would stay until evicted (with the socket hooks the sockets' own ends clear most of it).
/// </summary>
internal sealed unsafe class DeadProcessSweeper
{
    // struct conn_key { u32 tgid; u32 fd; } and struct queue_key { u32 tgid, fd, seq, pad; }
    private const int ConnKeySize = 8;
    private const int QueueKeySize = 16;
    // struct ssl_key { u64 ssl; u32 tgid; u32 pad; }
    private const int SslKeySize = 16;
    // struct ciphertext_key { u32 tgid; u32 pad; u8 head[32]; }
    private const int CiphertextKeySize = 40;
    // socket_conns: key struct sock * (u64), value struct conn_key
    private const int SocketKeySize = 8;
    // struct conn_state: req.used is at 119 (layout in bpf/http_tracker.h; checked by value size)
    private const int ConnStateSize = 424;
    private const int RequestUsedOffset = 119;

    private readonly int _connections;
    private readonly int _queued;
    private readonly int _sslFds;
    private readonly int _sslMemWbio;
    private readonly int _ciphertexts;
    private readonly int _socketSsl;
    private readonly int _socketConns;
    private readonly bool _sweepSockets;
    private readonly bool _layoutKnown;
    private long _requestsLost;

    /// <param name="bpf">The socket probe set's object.</param>
    /// <param name="sweepSockets">
    /// Whether socket_conns is swept too: with the syscall hooks, whose closes a process's death
    /// does not pass. (A lookup per entry, every sweep: not where the kernel clears it itself.)
    /// </param>
    public DeadProcessSweeper(BpfObject bpf, bool sweepSockets)
    {
        _sweepSockets = sweepSockets;
        _connections = bpf.MapFd("connections");
        _queued = bpf.MapFd("queued_requests");
        _sslFds = bpf.MapFd("ssl_fds");
        _sslMemWbio = bpf.MapFd("ssl_mem_wbio");
        _ciphertexts = bpf.MapFd("tls_ciphertexts");
        _socketSsl = bpf.MapFd("socket_ssl");
        _socketConns = bpf.MapFd("socket_conns");
        _layoutKnown = bpf.MapValueSize("connections") == ConnStateSize;
    }

    /// <summary>Requests in flight in processes that died, since the start.</summary>
    public long RequestsLost => Interlocked.Read(ref _requestsLost);

    /// <summary>Sweeps once; returns the number of entries removed.</summary>
    public int Sweep()
    {
        var alive = new Dictionary<uint, bool>();
        bool IsDead(uint tgid)
        {
            if (!alive.TryGetValue(tgid, out bool exists))
                alive[tgid] = exists = Directory.Exists($"/proc/{tgid}");
            return !exists;
        }

        int removed = 0;
        byte* value = stackalloc byte[ConnStateSize];
        foreach (byte[] key in Keys(_connections, ConnKeySize))
        {
            if (!IsDead(BinaryPrimitives.ReadUInt32LittleEndian(key)))
                continue;
            fixed (byte* k = key)
            {
                if (_layoutKnown && LibBpf.MapLookupElem(_connections, k, value) == 0 && value[RequestUsedOffset] != 0)
                    Interlocked.Increment(ref _requestsLost);
                if (LibBpf.MapDeleteElem(_connections, k) == 0)
                    removed++;
            }
        }
        // Each queued request of a dead process is a request that will never be answered.
        int queued = DeleteWhere(_queued, QueueKeySize, key => IsDead(BinaryPrimitives.ReadUInt32LittleEndian(key)));
        Interlocked.Add(ref _requestsLost, queued);
        removed += queued;
        removed += DeleteWhere(_sslFds, SslKeySize, key => IsDead(BinaryPrimitives.ReadUInt32LittleEndian(key.AsSpan(8))));
        removed += DeleteWhere(_sslMemWbio, SslKeySize, key => IsDead(BinaryPrimitives.ReadUInt32LittleEndian(key.AsSpan(8))));
        removed += DeleteWhere(_ciphertexts, CiphertextKeySize, key => IsDead(BinaryPrimitives.ReadUInt32LittleEndian(key)));
        removed += DeleteWhere(_socketSsl, ConnKeySize, key => IsDead(BinaryPrimitives.ReadUInt32LittleEndian(key)));
        if (_sweepSockets)
            removed += DeleteWhere(_socketConns, SocketKeySize, key => SocketTracker(key) is uint tgid && IsDead(tgid));
        return removed;
    }

    /// <summary>The process a socket_conns entry names (the tgid in its value), or null when the entry has gone.</summary>
    private uint? SocketTracker(byte[] key)
    {
        byte* value = stackalloc byte[ConnKeySize];
        fixed (byte* k = key)
        {
            if (LibBpf.MapLookupElem(_socketConns, k, value) != 0)
                return null;
        }
        return BinaryPrimitives.ReadUInt32LittleEndian(new ReadOnlySpan<byte>(value, ConnKeySize));
    }

    private static int DeleteWhere(int fd, int keySize, Func<byte[], bool> predicate)
    {
        int removed = 0;
        foreach (byte[] key in Keys(fd, keySize))
        {
            if (!predicate(key))
                continue;
            fixed (byte* k = key)
            {
                if (LibBpf.MapDeleteElem(fd, k) == 0)
                    removed++;
            }
        }
        return removed;
    }

    /// <summary>Every key of a map, copied first so that deleting does not disturb the walk.</summary>
    private static List<byte[]> Keys(int fd, int keySize)
    {
        var keys = new List<byte[]>();
        byte[] current = new byte[keySize];
        byte[] next = new byte[keySize];
        bool first = true;
        fixed (byte* c = current)
        fixed (byte* n = next)
        {
            while (LibBpf.MapGetNextKey(fd, first ? null : c, n) == 0)
            {
                keys.Add((byte[])next.Clone());
                new Span<byte>(n, keySize).CopyTo(new Span<byte>(c, keySize));
                first = false;
                if (keys.Count > 1_000_000)
                    break; // a map never holds this many: stop rather than loop
            }
        }
        return keys;
    }
}
