using System.Diagnostics;
using System.Text;
using Beyla.Implementation;
using Beyla.Tests.Support;

namespace Beyla.Tests;

public sealed class TraceParentParserTests
{
    private const string TraceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    private const string SpanId = "00f067aa0ba902b7";

    private static ActivityContext Find(string head) => TraceParentParser.Find(Encoding.ASCII.GetBytes(head));

    [Theory]
    [InlineData("GET / HTTP/1.1\r\ntraceparent: 00-" + TraceId + "-" + SpanId + "-01\r\n\r\n")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nTraceParent:00-" + TraceId + "-" + SpanId + "-01\r\nAccept: */*\r\n\r\n")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\ntraceparent  :   00-" + TraceId + "-" + SpanId + "-00\r\n")]
    [InlineData("GET / HTTP/1.1\ntraceparent: 00-" + TraceId + "-" + SpanId + "-01")] // capture ends right after the value
    public void FindsTheHeader(string head)
    {
        ActivityContext context = Find(head);
        Assert.Equal(TraceId, context.TraceId.ToHexString());
        Assert.Equal(SpanId, context.SpanId.ToHexString());
        Assert.True(context.IsRemote);
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\r\n\r\n")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\n\r\ntraceparent: 00-" + TraceId + "-" + SpanId + "-01\r\n")] // in the body
    [InlineData("GET / HTTP/1.1\r\ntraceparent: 00-" + TraceId + "-" + SpanId)] // truncated by the capture
    [InlineData("GET / HTTP/1.1\r\ntraceparent: ff-" + TraceId + "-" + SpanId + "-01\r\n")] // invalid version
    [InlineData("GET / HTTP/1.1\r\ntraceparent: 00-00000000000000000000000000000000-" + SpanId + "-01\r\n")] // zero trace id
    [InlineData("GET / HTTP/1.1\r\ntraceparent: 00-" + TraceId + "-0000000000000000-01\r\n")] // zero span id
    [InlineData("GET / HTTP/1.1\r\ntraceparent: 00-XYZ92f3577b34da6a3ce929d0e0e4736-" + SpanId + "-01\r\n")] // not hex
    [InlineData("GET / HTTP/1.1\r\ntraceparentx: 00-" + TraceId + "-" + SpanId + "-01\r\n")]
    [InlineData("GET / HTTP/1.1\r\nx-traceparent: 00-" + TraceId + "-" + SpanId + "-01\r\n")]
    [InlineData("")]
    [InlineData("\n")]
    public void IgnoresWhatIsNotAValidHeader(string head) => Assert.Equal(default, Find(head));

    [Fact]
    public void EveryPrefixOfAHeadIsSafe()
    {
        string head = "GET /a HTTP/1.1\r\nHost: x\r\ntraceparent: 00-" + TraceId + "-" + SpanId + "-01\r\n\r\n";
        for (int i = 0; i <= head.Length; i++)
            _ = Find(head[..i]);
    }

    [Fact]
    public async Task DecodedSpansCarryTheParentAndFakeSourcesRoundTripIt()
    {
        var parent = new ActivityContext(ActivityTraceId.CreateFromString(TraceId), ActivitySpanId.CreateFromString(SpanId), ActivityTraceFlags.Recorded);
        var source = new FakeEventSource();
        var sink = new CollectingSink();
        await using BeylaTracer tracer = new BeylaBuilder().WithEventSource(source).AddSink(sink).Build();
        source.Add(new HttpSpan { Method = "GET", Path = "/a", StatusCode = 200, ParentContext = parent });
        source.Add(new HttpSpan { Method = "GET", Path = "/b", StatusCode = 200 });
        source.Complete();
        await tracer.Completion.WaitAsync(TestTimeouts.Default);

        Assert.Equal(2, sink.Spans.Count);
        Assert.Equal(parent.TraceId, sink.Spans[0].ParentContext.TraceId);
        Assert.Equal(parent.SpanId, sink.Spans[0].ParentContext.SpanId);
        Assert.Equal(ActivityTraceFlags.Recorded, sink.Spans[0].ParentContext.TraceFlags);
        Assert.Equal(default, sink.Spans[1].ParentContext);
    }
}
