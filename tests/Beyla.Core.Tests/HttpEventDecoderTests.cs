using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Beyla.Implementation;
using Beyla.Tests.Support;

namespace Beyla.Tests;

public sealed class HttpEventDecoderTests
{
    private static readonly MonotonicClock Clock = new();

    private static HttpSpan SampleSpan(IPAddress local, IPAddress peer, HttpSpanKind kind = HttpSpanKind.Server) => new()
    {
        Kind = kind,
        Method = "PATCH",
        Path = "/orders/17/lines",
        StatusCode = 204,
        ProtocolVersion = "1.0",
        StartTimestamp = TestSpans.BaseTimestamp + 123_456,
        DurationNanoseconds = 7_654_321,
        RequestBytes = 1_234,
        ResponseBytes = 98_765,
        ProcessId = 31_337,
        ThreadId = 31_338,
        LocalAddress = local,
        LocalPort = 8443,
        PeerAddress = peer,
        PeerPort = 51_234,
        IsTls = true,
        EndReason = SpanEndReason.ConnectionClosed,
    };

    private static byte[] ValidRecord() => EventRecords.EncodeHttpSpan(SampleSpan(IPAddress.Parse("10.1.2.3"), IPAddress.Parse("192.168.7.9")));

    private static DecodeError Decode(ReadOnlySpan<byte> record, out HttpSpan? span, bool captureQuery = false) =>
        new HttpEventDecoder(captureQuery, Clock).TryDecode(record, out span);

    private static void AssertFieldsMatch(HttpSpan expected, HttpSpan actual)
    {
        Assert.Equal(expected.Kind, actual.Kind);
        Assert.Equal(expected.Method, actual.Method);
        Assert.Equal(expected.Path, actual.Path);
        Assert.Equal(expected.QueryString, actual.QueryString);
        Assert.Equal(expected.StatusCode, actual.StatusCode);
        Assert.Equal(expected.ProtocolVersion, actual.ProtocolVersion);
        Assert.Equal(expected.StartTimestamp, actual.StartTimestamp);
        Assert.Equal(expected.DurationNanoseconds, actual.DurationNanoseconds);
        Assert.Equal(expected.RequestBytes, actual.RequestBytes);
        Assert.Equal(expected.ResponseBytes, actual.ResponseBytes);
        Assert.Equal(expected.ProcessId, actual.ProcessId);
        Assert.Equal(expected.ThreadId, actual.ThreadId);
        Assert.Equal(expected.LocalPort, actual.LocalPort);
        Assert.Equal(expected.PeerPort, actual.PeerPort);
        Assert.Equal(expected.IsTls, actual.IsTls);
        Assert.Equal(expected.EndReason, actual.EndReason);
        Assert.False(actual.IsPathTruncated);
    }

    [Fact]
    public void ValidIpv4RecordDecodesToTheEncodedSpan()
    {
        HttpSpan original = SampleSpan(IPAddress.Parse("10.1.2.3"), IPAddress.Parse("192.168.7.9"));

        DecodeError error = Decode(EventRecords.EncodeHttpSpan(original), out HttpSpan? decoded);

        Assert.Equal(DecodeError.None, error);
        Assert.NotNull(decoded);
        AssertFieldsMatch(original, decoded);
        Assert.Equal(IPAddress.Parse("10.1.2.3"), decoded.LocalAddress);
        Assert.Equal(IPAddress.Parse("192.168.7.9"), decoded.PeerAddress);
        Assert.Equal(AddressFamily.InterNetwork, decoded.LocalAddress.AddressFamily);
        Assert.Equal(Clock.ToWallClock(MonotonicClock.FromStopwatchTimestamp(original.StartTimestamp)), decoded.StartTime);
        Assert.Equal(TimeSpan.FromTicks(original.DurationNanoseconds / 100), decoded.Duration);
    }

    [Fact]
    public void ValidIpv6RecordDecodesToTheEncodedSpan()
    {
        HttpSpan original = SampleSpan(IPAddress.Parse("2001:db8::1"), IPAddress.Parse("fe80::1234:5678:9abc:def0"), HttpSpanKind.Client);

        DecodeError error = Decode(EventRecords.EncodeHttpSpan(original), out HttpSpan? decoded);

        Assert.Equal(DecodeError.None, error);
        Assert.NotNull(decoded);
        AssertFieldsMatch(original, decoded);
        Assert.Equal(IPAddress.Parse("2001:db8::1"), decoded.LocalAddress);
        Assert.Equal(IPAddress.Parse("fe80::1234:5678:9abc:def0"), decoded.PeerAddress);
        Assert.Equal(HttpSpanKind.Client, decoded.Kind);
        Assert.Equal(decoded.PeerAddress, decoded.ServerAddress);
    }

    [Fact]
    public void DecodedSpansShareTheInstanceOfARepeatedAddress()
    {
        var decoder = new HttpEventDecoder(captureQuery: false, Clock);
        byte[] record = ValidRecord();

        Assert.Equal(DecodeError.None, decoder.TryDecode(record, out HttpSpan? first));
        Assert.Equal(DecodeError.None, decoder.TryDecode(record, out HttpSpan? second));
        Assert.Same(first!.LocalAddress, second!.LocalAddress);
        Assert.Same(first.PeerAddress, second.PeerAddress);
        Assert.Equal(IPAddress.Parse("192.168.7.9"), second.PeerAddress);
    }

    [Fact]
    public void LoopbackAddressesDecodeAsLoopback()
    {
        DecodeError v4 = Decode(EventRecords.EncodeHttpSpan(SampleSpan(IPAddress.Loopback, IPAddress.Loopback)), out HttpSpan? span4);
        DecodeError v6 = Decode(EventRecords.EncodeHttpSpan(SampleSpan(IPAddress.IPv6Loopback, IPAddress.IPv6Loopback)), out HttpSpan? span6);

        Assert.Equal(DecodeError.None, v4);
        Assert.Equal(IPAddress.Loopback, span4!.LocalAddress);
        Assert.Equal(IPAddress.Loopback, span4.PeerAddress);
        Assert.Equal(DecodeError.None, v6);
        Assert.Equal(IPAddress.IPv6Loopback, span6!.LocalAddress);
        Assert.Equal(IPAddress.IPv6Loopback, span6.PeerAddress);
    }

    [Fact]
    public void Ipv4MappedIpv6AddressesDecodeAsIpv4()
    {
        HttpSpan original = SampleSpan(IPAddress.Parse("::ffff:172.16.5.4"), IPAddress.Parse("::ffff:127.0.0.1"));
        byte[] record = EventRecords.EncodeHttpSpan(original);
        Assert.NotEqual(0, BinaryPrimitives.ReadUInt16LittleEndian(record.AsSpan(HttpEventLayout.Flags)) & HttpEventLayout.FlagIpv6);

        DecodeError error = Decode(record, out HttpSpan? decoded);

        Assert.Equal(DecodeError.None, error);
        Assert.Equal(IPAddress.Parse("172.16.5.4"), decoded!.LocalAddress);
        Assert.Equal(AddressFamily.InterNetwork, decoded.LocalAddress.AddressFamily);
        Assert.Equal(IPAddress.Loopback, decoded.PeerAddress);
    }

    [Fact]
    public void Ipv4AddressInAnIpv6RecordIsMappedAndDecodesBackToIpv4()
    {
        // One IPv6 end makes the whole record IPv6; the IPv4 end travels as ::ffff:a.b.c.d.
        HttpSpan original = SampleSpan(IPAddress.Parse("10.20.30.40"), IPAddress.Parse("2001:db8::99"));

        DecodeError error = Decode(EventRecords.EncodeHttpSpan(original), out HttpSpan? decoded);

        Assert.Equal(DecodeError.None, error);
        Assert.Equal(IPAddress.Parse("10.20.30.40"), decoded!.LocalAddress);
        Assert.Equal(IPAddress.Parse("2001:db8::99"), decoded.PeerAddress);
    }

    [Fact]
    public void Ipv6AddressThatOnlyLooksMappedStaysIpv6()
    {
        // ::fffe:... and 1::ffff:... are not IPv4-mapped.
        HttpSpan original = SampleSpan(IPAddress.Parse("::fffe:10.0.0.1"), IPAddress.Parse("1::ffff:10.0.0.1"));

        DecodeError error = Decode(EventRecords.EncodeHttpSpan(original), out HttpSpan? decoded);

        Assert.Equal(DecodeError.None, error);
        Assert.Equal(IPAddress.Parse("::fffe:10.0.0.1"), decoded!.LocalAddress);
        Assert.Equal(IPAddress.Parse("1::ffff:10.0.0.1"), decoded.PeerAddress);
    }

    [Fact]
    public void QueryStringIsDroppedUnlessCaptureIsOn()
    {
        HttpSpan original = SampleSpan(IPAddress.Loopback, IPAddress.Loopback);
        byte[] record = EventRecords.EncodeHttpSpan(new HttpSpan
        {
            Method = "GET",
            Path = "/search",
            QueryString = "q=secret&page=2",
            StatusCode = 200,
            StartTimestamp = original.StartTimestamp,
            ProcessId = 1,
        });

        Assert.Equal(DecodeError.None, Decode(record, out HttpSpan? withoutQuery, captureQuery: false));
        Assert.Equal(DecodeError.None, Decode(record, out HttpSpan? withQuery, captureQuery: true));

        Assert.Equal("/search", withoutQuery!.Path);
        Assert.Null(withoutQuery.QueryString);
        Assert.Equal("/search", withQuery!.Path);
        Assert.Equal("q=secret&page=2", withQuery.QueryString);
    }

    [Fact]
    public void NoResponseSpanDecodesWithStatusZero()
    {
        byte[] record = EventRecords.EncodeHttpSpan(new HttpSpan
        {
            Method = "GET",
            Path = "/slow",
            StatusCode = 0,
            StartTimestamp = TestSpans.BaseTimestamp,
            DurationNanoseconds = 0,
            ProcessId = 99,
        });

        DecodeError error = Decode(record, out HttpSpan? decoded);

        Assert.Equal(DecodeError.None, error);
        Assert.Equal(0, decoded!.StatusCode);
        Assert.Equal(SpanEndReason.NoResponse, decoded.EndReason);
        Assert.Equal(0, decoded.DurationNanoseconds);
    }

    [Fact]
    public void PathLongerThanTheHeadCaptureIsCutAndMarkedTruncated()
    {
        string longPath = "/" + new string('x', 400);
        byte[] record = EventRecords.EncodeHttpSpan(new HttpSpan
        {
            Method = "GET",
            Path = longPath,
            StatusCode = 200,
            StartTimestamp = TestSpans.BaseTimestamp,
            ProcessId = 7,
        });

        DecodeError error = Decode(record, out HttpSpan? decoded);

        Assert.Equal(DecodeError.None, error);
        Assert.True(decoded!.IsPathTruncated);
        // Everything of the head after "GET " is path.
        Assert.Equal(longPath[..(HttpEventLayout.HeadCapacity - "GET ".Length)], decoded.Path);
    }

    [Fact]
    public void EveryTruncatedPrefixOfAValidRecordIsReportedAsTruncated()
    {
        byte[] record = ValidRecord();
        Assert.Equal(HttpEventLayout.Size, record.Length);
        Assert.Equal(DecodeError.None, Decode(record, out _));

        for (int length = 0; length < record.Length; length++)
        {
            DecodeError error = Decode(record.AsSpan(0, length), out HttpSpan? span);
            Assert.True(error == DecodeError.Truncated, $"prefix of {length} bytes gave {error}");
            Assert.Null(span);
        }
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(2u)]
    [InlineData(0x01000000u)]
    [InlineData(uint.MaxValue)]
    public void UnknownRecordTypeIsRejected(uint type)
    {
        byte[] record = ValidRecord();
        BinaryPrimitives.WriteUInt32LittleEndian(record, type);

        Assert.Equal(DecodeError.UnknownType, Decode(record, out HttpSpan? span));
        Assert.Null(span);
        // The type is checked before the length: a short record of an unknown type is of an unknown type.
        Assert.Equal(DecodeError.UnknownType, Decode(record.AsSpan(0, 4), out _));
    }

    [Theory]
    [InlineData((byte)0)]
    [InlineData((byte)3)]
    [InlineData((byte)255)]
    public void KindOutOfRangeIsInvalid(byte kind)
    {
        byte[] record = ValidRecord();
        record[HttpEventLayout.Kind] = kind;

        Assert.Equal(DecodeError.InvalidField, Decode(record, out HttpSpan? span));
        Assert.Null(span);
    }

    [Theory]
    [InlineData((byte)0)]
    [InlineData((byte)5)]
    [InlineData((byte)255)]
    public void EndReasonOutOfRangeIsInvalid(byte endReason)
    {
        byte[] record = ValidRecord();
        record[HttpEventLayout.EndReason] = endReason;

        Assert.Equal(DecodeError.InvalidField, Decode(record, out HttpSpan? span));
        Assert.Null(span);
    }

    [Theory]
    [InlineData(HttpEventLayout.HeadCapacity + 1)]
    [InlineData(1000)]
    [InlineData(ushort.MaxValue)]
    public void HeadLengthBeyondCapacityIsInvalid(int headLength)
    {
        byte[] record = ValidRecord();
        BinaryPrimitives.WriteUInt16LittleEndian(record.AsSpan(HttpEventLayout.HeadLength), (ushort)headLength);

        Assert.Equal(DecodeError.InvalidField, Decode(record, out HttpSpan? span));
        Assert.Null(span);
    }

    [Fact]
    public void HeadLengthOfExactlyTheCapacityIsAccepted()
    {
        byte[] record = ValidRecord();
        BinaryPrimitives.WriteUInt16LittleEndian(record.AsSpan(HttpEventLayout.HeadLength), HttpEventLayout.HeadCapacity);

        Assert.Equal(DecodeError.None, Decode(record, out HttpSpan? span));
        Assert.Equal("/orders/17/lines", span!.Path);
    }

    [Fact]
    public void EndBeforeStartIsInvalid()
    {
        byte[] record = ValidRecord();
        long start = BinaryPrimitives.ReadInt64LittleEndian(record.AsSpan(HttpEventLayout.StartNs));
        BinaryPrimitives.WriteInt64LittleEndian(record.AsSpan(HttpEventLayout.EndNs), start - 1);

        Assert.Equal(DecodeError.InvalidField, Decode(record, out HttpSpan? span));
        Assert.Null(span);

        BinaryPrimitives.WriteInt64LittleEndian(record.AsSpan(HttpEventLayout.EndNs), start);
        Assert.Equal(DecodeError.None, Decode(record, out span));
        Assert.Equal(0, span!.DurationNanoseconds);
    }

    [Theory]
    [InlineData(0UL)]
    [InlineData(0x8000_0000_0000_0000UL)]
    [InlineData(ulong.MaxValue)]
    public void StartTimeThatIsNotAPositiveInt64IsInvalid(ulong start)
    {
        byte[] record = ValidRecord();
        BinaryPrimitives.WriteUInt64LittleEndian(record.AsSpan(HttpEventLayout.StartNs), start);
        BinaryPrimitives.WriteUInt64LittleEndian(record.AsSpan(HttpEventLayout.EndNs), start);

        Assert.Equal(DecodeError.InvalidField, Decode(record, out HttpSpan? span));
        Assert.Null(span);
    }

    [Theory]
    [InlineData(HttpEventLayout.RequestBytes)]
    [InlineData(HttpEventLayout.ResponseBytes)]
    public void ByteCountThatOverflowsInt64IsInvalid(int offset)
    {
        byte[] record = ValidRecord();
        BinaryPrimitives.WriteUInt64LittleEndian(record.AsSpan(offset), 0x8000_0000_0000_0000UL);

        Assert.Equal(DecodeError.InvalidField, Decode(record, out HttpSpan? span));
        Assert.Null(span);
    }

    [Theory]
    [InlineData((byte)SpanEndReason.ResponseComplete)]
    [InlineData((byte)SpanEndReason.NextRequest)]
    [InlineData((byte)SpanEndReason.ConnectionClosed)]
    public void StatusZeroWithAnEndReasonOtherThanNoResponseIsInvalid(byte endReason)
    {
        byte[] record = ValidRecord();
        record[HttpEventLayout.EndReason] = endReason;
        BinaryPrimitives.WriteUInt16LittleEndian(record.AsSpan(HttpEventLayout.Status), 0);

        Assert.Equal(DecodeError.InvalidField, Decode(record, out HttpSpan? span));
        Assert.Null(span);
    }

    [Fact]
    public void StatusWithEndReasonNoResponseIsInvalid()
    {
        byte[] record = ValidRecord();
        record[HttpEventLayout.EndReason] = (byte)SpanEndReason.NoResponse;

        Assert.NotEqual(0, BinaryPrimitives.ReadUInt16LittleEndian(record.AsSpan(HttpEventLayout.Status)));
        Assert.Equal(DecodeError.InvalidField, Decode(record, out HttpSpan? span));
        Assert.Null(span);
    }

    [Theory]
    [InlineData(1000)]
    [InlineData(ushort.MaxValue)]
    public void StatusAboveThreeDigitsIsInvalid(int status)
    {
        byte[] record = ValidRecord();
        BinaryPrimitives.WriteUInt16LittleEndian(record.AsSpan(HttpEventLayout.Status), (ushort)status);

        Assert.Equal(DecodeError.InvalidField, Decode(record, out HttpSpan? span));
        Assert.Null(span);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(0x8000_0000u)]
    [InlineData(uint.MaxValue)]
    public void PidThatIsNotPositiveIsInvalid(uint pid)
    {
        byte[] record = ValidRecord();
        BinaryPrimitives.WriteUInt32LittleEndian(record.AsSpan(HttpEventLayout.Pid), pid);

        Assert.Equal(DecodeError.InvalidField, Decode(record, out HttpSpan? span));
        Assert.Null(span);
    }

    [Theory]
    [InlineData("")]
    [InlineData("hello world\r\n")]
    [InlineData("GET /a HTTP/2")]
    [InlineData("SSH-2.0-OpenSSH_9.6\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\n\r\n")]
    [InlineData("GET /path\r\n")]
    [InlineData("GET /a b HTTP/1.1\r\n")]
    [InlineData("get(x) / HTTP/1.1\r\n")]
    [InlineData("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")]
    public void HeadThatIsNotARequestLineIsNotHttp(string head)
    {
        byte[] record = ValidRecord();
        Span<byte> headBytes = record.AsSpan(HttpEventLayout.Head, HttpEventLayout.HeadCapacity);
        headBytes.Clear();
        int length = Encoding.ASCII.GetBytes(head, headBytes);
        BinaryPrimitives.WriteUInt16LittleEndian(record.AsSpan(HttpEventLayout.HeadLength), (ushort)length);

        Assert.Equal(DecodeError.NotHttp, Decode(record, out HttpSpan? span));
        Assert.Null(span);
    }

    [Fact]
    public void BinaryHeadIsNotHttp()
    {
        byte[] record = ValidRecord();
        // A TLS ClientHello, as a probe would capture on an encrypted connection.
        byte[] clientHello = [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0x20, 0x8a];
        clientHello.CopyTo(record.AsSpan(HttpEventLayout.Head));
        BinaryPrimitives.WriteUInt16LittleEndian(record.AsSpan(HttpEventLayout.HeadLength), (ushort)clientHello.Length);

        Assert.Equal(DecodeError.NotHttp, Decode(record, out HttpSpan? span));
        Assert.Null(span);
    }

    [Fact]
    public void BytesAfterHeadLengthAreIgnored()
    {
        byte[] record = ValidRecord();
        int headLength = BinaryPrimitives.ReadUInt16LittleEndian(record.AsSpan(HttpEventLayout.HeadLength));
        record.AsSpan(HttpEventLayout.Head + headLength, HttpEventLayout.HeadCapacity - headLength).Fill(0xff);

        Assert.Equal(DecodeError.None, Decode(record, out HttpSpan? span));
        Assert.Equal("/orders/17/lines", span!.Path);

        // A head length cut inside the request line makes a truncated path, never bytes beyond it.
        BinaryPrimitives.WriteUInt16LittleEndian(record.AsSpan(HttpEventLayout.HeadLength), (ushort)"PATCH /orders".Length);
        Assert.Equal(DecodeError.None, Decode(record, out span));
        Assert.Equal("/orders", span!.Path);
        Assert.True(span.IsPathTruncated);
    }

    [Fact]
    public void RandomBytesNeverThrowAndGetTheErrorTheirHeaderCalls()
    {
        var random = new Random(20240601);
        var decoder = new HttpEventDecoder(captureQuery: true, Clock);
        int decodedCount = 0;
        for (int iteration = 0; iteration < 20_000; iteration++)
        {
            int length = random.Next(0, HttpEventLayout.Size + 64);
            byte[] record = new byte[length];
            random.NextBytes(record);
            // Half the time, make the header plausible so that the field checks are reached.
            if (length >= 4 && iteration % 2 == 0)
                BinaryPrimitives.WriteUInt32LittleEndian(record, HttpEventLayout.TypeHttpSpan);

            DecodeError error = decoder.TryDecode(record, out HttpSpan? span);

            DecodeError expected = ExpectedHeaderError(record);
            if (expected != DecodeError.None)
            {
                Assert.Equal(expected, error);
                Assert.Null(span);
                continue;
            }
            Assert.Contains(error, new[] { DecodeError.None, DecodeError.InvalidField, DecodeError.NotHttp });
            if (error == DecodeError.None)
            {
                decodedCount++;
                AssertDecodedSpanIsConsistent(record, span);
            }
            else
            {
                Assert.Null(span);
            }
        }
        // A random record passes every field check with a vanishing probability; if many did, the checks would be missing.
        Assert.True(decodedCount < 10, $"{decodedCount} random records decoded");
    }

    [Fact]
    public void ValidRecordsWithRandomlyCorruptedBytesNeverThrow()
    {
        var random = new Random(77);
        var decoder = new HttpEventDecoder(captureQuery: false, Clock);
        byte[] valid = ValidRecord();
        int decodedCount = 0;
        for (int iteration = 0; iteration < 20_000; iteration++)
        {
            byte[] record = (byte[])valid.Clone();
            int flips = random.Next(1, 4);
            for (int i = 0; i < flips; i++)
                record[random.Next(record.Length)] = (byte)random.Next(256);

            DecodeError error = decoder.TryDecode(record, out HttpSpan? span);

            Assert.Equal(error == DecodeError.None, span is not null);
            DecodeError expected = ExpectedHeaderError(record);
            if (expected != DecodeError.None)
                Assert.Equal(expected, error);
            if (span is not null)
            {
                decodedCount++;
                AssertDecodedSpanIsConsistent(record, span);
            }
        }
        // Corrupting a byte of the addresses, ports, sizes... keeps the record valid; it must still decode.
        Assert.True(decodedCount > 1000, $"only {decodedCount} corrupted records decoded");
    }

    /// <summary>The error implied by the length, type and range-checked fields alone; None when those allow decoding.</summary>
    private static DecodeError ExpectedHeaderError(byte[] record)
    {
        if (record.Length < 4)
            return DecodeError.Truncated;
        if (BinaryPrimitives.ReadUInt32LittleEndian(record) != HttpEventLayout.TypeHttpSpan)
            return DecodeError.UnknownType;
        if (record.Length < HttpEventLayout.Size)
            return DecodeError.Truncated;
        byte kind = record[HttpEventLayout.Kind];
        byte endReason = record[HttpEventLayout.EndReason];
        int headLength = BinaryPrimitives.ReadUInt16LittleEndian(record.AsSpan(HttpEventLayout.HeadLength));
        long start = BinaryPrimitives.ReadInt64LittleEndian(record.AsSpan(HttpEventLayout.StartNs));
        long end = BinaryPrimitives.ReadInt64LittleEndian(record.AsSpan(HttpEventLayout.EndNs));
        int pid = BinaryPrimitives.ReadInt32LittleEndian(record.AsSpan(HttpEventLayout.Pid));
        int status = BinaryPrimitives.ReadUInt16LittleEndian(record.AsSpan(HttpEventLayout.Status));
        if (kind is not (1 or 2) || endReason is < 1 or > 4 || headLength > HttpEventLayout.HeadCapacity
            || start <= 0 || end < start || pid <= 0 || status > 999 || (status == 0) != (endReason == 4)
            || BinaryPrimitives.ReadInt64LittleEndian(record.AsSpan(HttpEventLayout.RequestBytes)) < 0
            || BinaryPrimitives.ReadInt64LittleEndian(record.AsSpan(HttpEventLayout.ResponseBytes)) < 0)
        {
            return DecodeError.InvalidField;
        }
        return DecodeError.None;
    }

    private static void AssertDecodedSpanIsConsistent(byte[] record, HttpSpan? span)
    {
        Assert.NotNull(span);
        Assert.Equal((HttpSpanKind)record[HttpEventLayout.Kind], span.Kind);
        Assert.Equal(BinaryPrimitives.ReadInt32LittleEndian(record.AsSpan(HttpEventLayout.Pid)), span.ProcessId);
        Assert.Equal(BinaryPrimitives.ReadUInt16LittleEndian(record.AsSpan(HttpEventLayout.Status)), span.StatusCode);
        Assert.Equal(BinaryPrimitives.ReadUInt16LittleEndian(record.AsSpan(HttpEventLayout.LocalPort)), span.LocalPort);
        Assert.Equal(BinaryPrimitives.ReadUInt16LittleEndian(record.AsSpan(HttpEventLayout.PeerPort)), span.PeerPort);
        Assert.True(span.DurationNanoseconds >= 0);
        Assert.NotEmpty(span.Method);
        Assert.All(span.Path, c => Assert.InRange(c, '!', '~'));
    }
}
