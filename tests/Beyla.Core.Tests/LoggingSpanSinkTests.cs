using System.Net;
using Beyla.Exporters;
using Beyla.Tests.Support;
using Microsoft.Extensions.Logging;

namespace Beyla.Tests;

public sealed class LoggingSpanSinkTests
{
    private static HttpSpan[] Spans() =>
    [
        new HttpSpan { Method = "GET", Path = "/users/42", StatusCode = 200, DurationNanoseconds = 1_500_000, ProcessId = 11, PeerAddress = IPAddress.Parse("10.9.8.7"), PeerPort = 5555 },
        new HttpSpan { Method = "POST", Path = "/orders", StatusCode = 503, DurationNanoseconds = 2_000_000, ProcessId = 12, Kind = HttpSpanKind.Client },
        new HttpSpan { Method = "DELETE", Path = "/x", StatusCode = 0, ProcessId = 13, EndReason = SpanEndReason.NoResponse },
    ];

    [Fact]
    public void LogsOneEntryPerSpanWithMethodPathAndStatus()
    {
        var logger = new RecordingLogger(LogLevel.Information);
        var sink = new LoggingSpanSink(logger);
        HttpSpan[] spans = Spans();

        sink.Export(spans);

        Assert.Equal(spans.Length, logger.Entries.Count);
        for (int i = 0; i < spans.Length; i++)
        {
            LogEntry entry = logger.Entries[i];
            Assert.Equal(LogLevel.Information, entry.Level);
            Assert.Equal(spans[i].Method, entry.Properties["Method"]);
            Assert.Equal(spans[i].Path, entry.Properties["Path"]);
            Assert.Equal(spans[i].StatusCode, entry.Properties["Status"]);
            Assert.Equal(spans[i].ProcessId, entry.Properties["Pid"]);
            Assert.Equal(spans[i].Kind, entry.Properties["Kind"]);
            Assert.Equal(spans[i].Route, entry.Properties["Route"]);
            Assert.Equal(spans[i].ServiceName, entry.Properties["Service"]);
            Assert.Contains($"{spans[i].Method} {spans[i].Path} route={spans[i].Route} {spans[i].StatusCode}", entry.Message, StringComparison.Ordinal);
        }
        Assert.Contains("peer=10.9.8.7:5555", logger.Entries[0].Message, StringComparison.Ordinal);
        Assert.Contains("1.500ms", logger.Entries[0].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UsesTheConfiguredLevel()
    {
        var logger = new RecordingLogger(LogLevel.Trace);
        var sink = new LoggingSpanSink(logger, LogLevel.Warning);

        sink.Export(Spans());

        Assert.Equal(3, logger.Entries.Count);
        Assert.All(logger.Entries, e => Assert.Equal(LogLevel.Warning, e.Level));
    }

    [Theory]
    [InlineData(LogLevel.Information, LogLevel.Warning)]
    [InlineData(LogLevel.Debug, LogLevel.Information)]
    [InlineData(LogLevel.None, LogLevel.Trace)]
    public void LogsNothingWhenTheLevelIsDisabled(LogLevel sinkLevel, LogLevel loggerMinimum)
    {
        var logger = new RecordingLogger(loggerMinimum);
        var sink = new LoggingSpanSink(logger, sinkLevel);

        sink.Export(Spans());

        Assert.Empty(logger.Entries);
    }

    [Fact]
    public void EmptyBatchLogsNothing()
    {
        var logger = new RecordingLogger();

        new LoggingSpanSink(logger).Export([]);

        Assert.Empty(logger.Entries);
    }

    [Fact]
    public void NullLoggerIsRejected()
    {
        Assert.Throws<ArgumentNullException>(() => new LoggingSpanSink(null!));
    }

    [Fact]
    public async Task LogsEverySpanOfARunningTracer()
    {
        var logger = new RecordingLogger(LogLevel.Information);
        var source = new FakeEventSource();
        await using BeylaTracer tracer = new BeylaBuilder().WithEventSource(source).AddSink(new LoggingSpanSink(logger)).Build();

        for (int i = 0; i < 50; i++)
            source.Add(TestSpans.Numbered(i));
        source.Complete();
        await tracer.Completion.WaitAsync(TestTimeouts.Default);

        Assert.Equal(Enumerable.Range(0, 50).Select(i => $"/items/{i}"), logger.Entries.Select(e => (string?)e.Properties["Path"]));
    }
}
