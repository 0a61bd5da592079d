using System.Buffers.Binary;
using System.Net;

namespace Beyla.Implementation;

/// <summary>Turns one raw <c>http_span_event</c> record into an <see cref="HttpSpan"/>.</summary>
internal sealed class HttpEventDecoder
{
    private readonly bool _captureQuery;
    private readonly MonotonicClock _clock;
    private readonly SpanDecoration _decoration;
    private readonly AddressCache _addresses = new();

    public HttpEventDecoder(bool captureQuery, MonotonicClock clock, SpanDecoration? decoration = null)
    {
        _captureQuery = captureQuery;
        _clock = clock;
        _decoration = decoration ?? new SpanDecoration(new BeylaOptions());
    }

    public DecodeError TryDecode(ReadOnlySpan<byte> record, out HttpSpan? span)
    {
        span = null;
        if (record.Length < 4)
            return DecodeError.Truncated;
        uint type = BinaryPrimitives.ReadUInt32LittleEndian(record);
        if (type != HttpEventLayout.TypeHttpSpan)
            return DecodeError.UnknownType;
        if (record.Length < HttpEventLayout.Size)
            return DecodeError.Truncated;

        byte kind = record[HttpEventLayout.Kind];
        byte endReason = record[HttpEventLayout.EndReason];
        ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(record[HttpEventLayout.Flags..]);
        long start = (long)BinaryPrimitives.ReadUInt64LittleEndian(record[HttpEventLayout.StartNs..]);
        long end = (long)BinaryPrimitives.ReadUInt64LittleEndian(record[HttpEventLayout.EndNs..]);
        long requestBytes = (long)BinaryPrimitives.ReadUInt64LittleEndian(record[HttpEventLayout.RequestBytes..]);
        long responseBytes = (long)BinaryPrimitives.ReadUInt64LittleEndian(record[HttpEventLayout.ResponseBytes..]);
        int pid = (int)BinaryPrimitives.ReadUInt32LittleEndian(record[HttpEventLayout.Pid..]);
        int tid = (int)BinaryPrimitives.ReadUInt32LittleEndian(record[HttpEventLayout.Tid..]);
        int status = BinaryPrimitives.ReadUInt16LittleEndian(record[HttpEventLayout.Status..]);
        int localPort = BinaryPrimitives.ReadUInt16LittleEndian(record[HttpEventLayout.LocalPort..]);
        int peerPort = BinaryPrimitives.ReadUInt16LittleEndian(record[HttpEventLayout.PeerPort..]);
        int headLength = BinaryPrimitives.ReadUInt16LittleEndian(record[HttpEventLayout.HeadLength..]);

        if (kind is not (1 or 2) || endReason is < 1 or > 4 || headLength > HttpEventLayout.HeadCapacity
            || start <= 0 || end < start || requestBytes < 0 || responseBytes < 0 || status > 999
            || pid <= 0 || (status == 0) != (endReason == 4))
        {
            return DecodeError.InvalidField;
        }

        ReadOnlySpan<byte> head = record.Slice(HttpEventLayout.Head, headLength);
        if (!RequestLineParser.TryParse(head, _captureQuery, out RequestLine line))
            return DecodeError.NotHttp;

        bool ipv6 = (flags & HttpEventLayout.FlagIpv6) != 0;
        string service = _decoration.Services.Get(pid, record.Slice(HttpEventLayout.Comm, HttpEventLayout.CommCapacity));
        span = new HttpSpan
        {
            ServiceName = service,
            Route = _decoration.Routes.Decorate(service, line.Path),
            ParentContext = TraceParentParser.Find(head),
            Kind = (HttpSpanKind)kind,
            EndReason = (SpanEndReason)endReason,
            Method = line.Method,
            Path = line.Path,
            QueryString = line.Query,
            ProtocolVersion = line.Version,
            IsPathTruncated = line.Truncated,
            StatusCode = status,
            StartTime = _clock.ToWallClock(start),
            StartTimestamp = MonotonicClock.ToStopwatchTimestamp(start),
            DurationNanoseconds = end - start,
            RequestBytes = requestBytes,
            ResponseBytes = responseBytes,
            ProcessId = pid,
            ThreadId = tid,
            LocalPort = localPort,
            PeerPort = peerPort,
            LocalAddress = ReadAddress(record.Slice(HttpEventLayout.LocalAddress, 16), ipv6),
            PeerAddress = ReadAddress(record.Slice(HttpEventLayout.PeerAddress, 16), ipv6),
            IsTls = (flags & HttpEventLayout.FlagTls) != 0,
        };
        return DecodeError.None;
    }

    private IPAddress ReadAddress(ReadOnlySpan<byte> bytes, bool ipv6)
    {
        if (!ipv6)
            return _addresses.GetV4(bytes);
        // IPv4-mapped (::ffff:a.b.c.d): report the IPv4 address, as the peer sees it.
        if (bytes[..10].IndexOfAnyExcept((byte)0) < 0 && bytes[10] == 0xff && bytes[11] == 0xff)
            return _addresses.GetV4(bytes[12..]);
        return _addresses.GetV6(bytes);
    }
}
