using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Beyla.Implementation;
using Beyla.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;

namespace Beyla.Tests;

/// <summary>
/// Millions of generated inputs through every parser of untrusted bytes: the event decoder,
/// the request-line and traceparent recognisers, route decoration and the record framing.
/// Nothing may throw and nothing may hang; whatever is accepted must be well-formed.
/// </summary>
public sealed class FuzzTests
{
    private const int Iterations = 1_000_000;

    private static readonly byte[][] Seeds =
    [
        .. Enumerable.Range(0, 8).Select(i => EventRecords.EncodeHttpSpan(TestSpans.Numbered(i, i % 2 == 0 ? "a=1" : null))),
        EventRecords.EncodeHttpSpan(new HttpSpan
        {
            Method = "POST", Path = "/orders/6f1c2a5e-3b7d-4e8f-9a0b-1c2d3e4f5a6b", StatusCode = 0,
            ParentContext = new System.Diagnostics.ActivityContext(System.Diagnostics.ActivityTraceId.CreateRandom(), System.Diagnostics.ActivitySpanId.CreateRandom(), System.Diagnostics.ActivityTraceFlags.Recorded),
        }),
    ];

    [Fact]
    public void MillionMutatedRecordsNeverThrowAndAcceptedOnesAreWellFormed()
    {
        var random = new Random(1234);
        var decoder = new HttpEventDecoder(captureQuery: true, MonotonicClock.Shared,
            new SpanDecoration(new BeylaOptions { ServiceNameResolver = _ => "fuzz", MaxRoutesPerService = 50 }));
        byte[] record = new byte[HttpEventLayout.Size + 16];
        int accepted = 0;
        for (int iteration = 0; iteration < Iterations; iteration++)
        {
            byte[] seed = Seeds[iteration % Seeds.Length];
            int length = iteration % 97 == 0 ? random.Next(0, record.Length) : seed.Length;
            seed.AsSpan(0, Math.Min(seed.Length, length)).CopyTo(record);
            // Mostly the request head (where untrusted bytes live), sometimes any field.
            int flips = random.Next(1, 6);
            for (int i = 0; i < flips; i++)
            {
                int at = random.Next(3) == 0 ? random.Next(0, length == 0 ? 1 : length) : HttpEventLayout.Head + random.Next(0, 64);
                if (at < length)
                    record[at] = (byte)random.Next(256);
            }
            if (random.Next(8) == 0 && length >= HttpEventLayout.Size)
                BinaryPrimitives.WriteUInt16LittleEndian(record.AsSpan(HttpEventLayout.HeadLength), (ushort)random.Next(0, 400));

            DecodeError error = decoder.TryDecode(record.AsSpan(0, length), out HttpSpan? span);
            if (error != DecodeError.None)
            {
                Assert.Null(span);
                continue;
            }
            accepted++;
            Assert.NotNull(span);
            Assert.StartsWith("/", span.Route, StringComparison.Ordinal);
            Assert.True(span.Method.Length is > 0 and <= 16);
            Assert.True(span.DurationNanoseconds >= 0);
            Assert.DoesNotContain('?', span.Path);
            Assert.True(span.StatusCode is >= 0 and <= 999);
        }
        // Most mutations keep a valid record: the fuzzer really reaches the deep paths.
        Assert.True(accepted > Iterations / 4, $"only {accepted} accepted");
    }

    [Fact]
    public void MillionRequestHeadsNeverThrow()
    {
        var random = new Random(99);
        byte[] alphabet = Encoding.ASCII.GetBytes("GETPOSHDLUACNIR /?#=&%.:-_HTtp1.0\r\n\t\u0001\u007f\u00ffabcdef0123456789traceparent:");
        byte[] head = new byte[HttpEventLayout.HeadCapacity];
        string[] prefixes = ["GET /", "POST /a/", "HEAD /x HTTP/1.", "GET /p HTTP/1.1\r\ntraceparent: 00-", "OPTIONS * HTTP/1.0\r\n"];
        int accepted = 0;
        for (int iteration = 0; iteration < Iterations; iteration++)
        {
            int length = random.Next(0, head.Length + 1);
            int start = 0;
            if (iteration % 2 == 0)
                start = Encoding.ASCII.GetBytes(prefixes[iteration % prefixes.Length], head);
            for (int i = start; i < length; i++)
                head[i] = alphabet[random.Next(alphabet.Length)];
            length = Math.Max(length, Math.Min(start, head.Length));
            ReadOnlySpan<byte> input = head.AsSpan(0, length);

            _ = TraceParentParser.Find(input);
            if (RequestLineParser.TryParse(input, captureQuery: iteration % 3 == 0, out RequestLine line))
            {
                accepted++;
                Assert.DoesNotContain('?', line.Path);
                Assert.False(line.Path.Any(c => c <= ' ' || c >= 0x7f), line.Path);
                string route = RouteHeuristic.Apply(line.Path);
                if (line.Path.StartsWith('/'))
                    Assert.Equal(line.Path.Count(c => c == '/'), route.Count(c => c == '/'));
                else
                    Assert.Equal("/**", route); // "*" (OPTIONS *) or an authority-form target
            }
        }
        Assert.True(accepted > 1000, $"only {accepted} heads accepted");
    }

    [Fact]
    public void RandomByteStreamsThroughTheFramingNeverThrowOrHang()
    {
        var random = new Random(5);
        var sink = new CollectingSink();
        var dispatcher = new SpanDispatcher([sink], NullLogger.Instance);
        long total = 0;
        var watch = System.Diagnostics.Stopwatch.StartNew();
        for (int iteration = 0; iteration < 20_000; iteration++)
        {
            var pump = new RecordPump("fuzz", new HttpEventDecoder(false, MonotonicClock.Shared), dispatcher, NullLogger.Instance);
            byte[] stream = new byte[random.Next(0, 2048)];
            random.NextBytes(stream);
            if (iteration % 2 == 0 && stream.Length >= 4)
                BinaryPrimitives.WriteInt32LittleEndian(stream, random.Next(0, stream.Length)); // a plausible length
            var buffer = new ReadOnlySequence<byte>(stream);
            _ = pump.ProcessFrames(ref buffer);
            pump.Flush();
            total += stream.Length;
            Assert.True(pump.Decoded + pump.Malformed >= 0);
        }
        Assert.True(total > 10_000_000);
        Assert.True(watch.Elapsed < TimeSpan.FromMinutes(2), "framing 20 MB of random bytes took minutes: something loops");
    }
}
