using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Beyla.Implementation;

namespace Beyla;

/// <summary>
/// The raw record format shared by the kernel probes and every <see cref="IEventSource"/>:
/// framing records on a pipe, and encoding a span as the kernel would, for tests.
/// </summary>
public static class EventRecords
{
    /// <summary>Size in bytes of an HTTP span record.</summary>
    public static int HttpSpanRecordSize => HttpEventLayout.Size;

    /// <summary>Bytes of the request head that a record carries.</summary>
    public static int RequestHeadCapacity => HttpEventLayout.HeadCapacity;

    /// <summary>Writes one framed record (length prefix and bytes) to <paramref name="writer"/>; does not flush.</summary>
    /// <param name="writer">The pipe to write to.</param>
    /// <param name="record">The record bytes.</param>
    public static void Write(PipeWriter writer, ReadOnlySpan<byte> record)
    {
        ArgumentNullException.ThrowIfNull(writer);
        Span<byte> dest = writer.GetSpan(4 + record.Length);
        BinaryPrimitives.WriteInt32LittleEndian(dest, record.Length);
        record.CopyTo(dest[4..]);
        writer.Advance(4 + record.Length);
    }

    /// <summary>
    /// Encodes <paramref name="span"/> as the kernel's <c>http_span_event</c> record: a request
    /// line is rebuilt from its method, path, query and version, followed by a <c>traceparent</c>
    /// header when <see cref="HttpSpan.ParentContext"/> is set. Times are taken from
    /// <see cref="HttpSpan.StartTimestamp"/> (or now, when it is 0) and the duration.
    /// </summary>
    /// <param name="span">The span to encode.</param>
    /// <returns>The record bytes.</returns>
    public static byte[] EncodeHttpSpan(HttpSpan span)
    {
        ArgumentNullException.ThrowIfNull(span);
        byte[] record = new byte[HttpEventLayout.Size];
        Span<byte> r = record;
        long start = span.StartTimestamp != 0 ? MonotonicClock.FromStopwatchTimestamp(span.StartTimestamp) : MonotonicClock.MonotonicNow();
        bool ipv6 = span.LocalAddress.AddressFamily == AddressFamily.InterNetworkV6 || span.PeerAddress.AddressFamily == AddressFamily.InterNetworkV6;
        ushort flags = (ushort)((ipv6 ? HttpEventLayout.FlagIpv6 : 0) | (span.IsTls ? HttpEventLayout.FlagTls : 0));
        BinaryPrimitives.WriteUInt32LittleEndian(r, HttpEventLayout.TypeHttpSpan);
        r[HttpEventLayout.Kind] = (byte)span.Kind;
        r[HttpEventLayout.EndReason] = (byte)(span.StatusCode == 0 ? SpanEndReason.NoResponse : span.EndReason == SpanEndReason.NoResponse ? SpanEndReason.ResponseComplete : span.EndReason);
        BinaryPrimitives.WriteUInt16LittleEndian(r[HttpEventLayout.Flags..], flags);
        BinaryPrimitives.WriteInt64LittleEndian(r[HttpEventLayout.StartNs..], start);
        BinaryPrimitives.WriteInt64LittleEndian(r[HttpEventLayout.EndNs..], start + Math.Max(0, span.DurationNanoseconds));
        BinaryPrimitives.WriteInt64LittleEndian(r[HttpEventLayout.RequestBytes..], span.RequestBytes);
        BinaryPrimitives.WriteInt64LittleEndian(r[HttpEventLayout.ResponseBytes..], span.ResponseBytes);
        BinaryPrimitives.WriteInt32LittleEndian(r[HttpEventLayout.Pid..], span.ProcessId == 0 ? Environment.ProcessId : span.ProcessId);
        BinaryPrimitives.WriteInt32LittleEndian(r[HttpEventLayout.Tid..], span.ThreadId);
        BinaryPrimitives.WriteUInt16LittleEndian(r[HttpEventLayout.Status..], (ushort)span.StatusCode);
        BinaryPrimitives.WriteUInt16LittleEndian(r[HttpEventLayout.LocalPort..], (ushort)span.LocalPort);
        BinaryPrimitives.WriteUInt16LittleEndian(r[HttpEventLayout.PeerPort..], (ushort)span.PeerPort);
        WriteAddress(r.Slice(HttpEventLayout.LocalAddress, 16), span.LocalAddress, ipv6);
        WriteAddress(r.Slice(HttpEventLayout.PeerAddress, 16), span.PeerAddress, ipv6);

        string target = span.QueryString is null ? span.Path : span.Path + "?" + span.QueryString;
        // A span that continues a trace carries its traceparent header, as the request would have.
        string traceparent = span.ParentContext == default ? ""
            : $"traceparent: 00-{span.ParentContext.TraceId.ToHexString()}-{span.ParentContext.SpanId.ToHexString()}-{((span.ParentContext.TraceFlags & System.Diagnostics.ActivityTraceFlags.Recorded) != 0 ? "01" : "00")}\r\n";
        string head = $"{span.Method} {target} HTTP/{span.ProtocolVersion}\r\n{traceparent}\r\n";
        int written = Encoding.ASCII.GetBytes(head.AsSpan(0, Math.Min(head.Length, HttpEventLayout.HeadCapacity)), r.Slice(HttpEventLayout.Head, HttpEventLayout.HeadCapacity));
        BinaryPrimitives.WriteUInt16LittleEndian(r[HttpEventLayout.HeadLength..], (ushort)written);
        return record;
    }

    private static void WriteAddress(Span<byte> dest, IPAddress address, bool ipv6)
    {
        if (address.Equals(IPAddress.None))
            return;
        IPAddress a = ipv6 ? address.MapToIPv6() : address.MapToIPv4();
        a.TryWriteBytes(dest, out _);
    }
}
