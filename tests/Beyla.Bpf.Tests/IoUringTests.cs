using System.Diagnostics;
using Beyla.Implementation;
using Beyla.Tests.Support;
using Microsoft.Extensions.Logging;

namespace Beyla.Bpf.Tests;

/// <summary>
/// A server that moves its socket bytes through io_uring passes none of the syscall hooks. The
/// tracer says so, once per process, naming it (tests/servers/uring_server.c), however the
/// requests are submitted; io_uring used for files only is not reported, and the process's
/// sockets are traced as usual.
/// </summary>
public sealed class IoUringTests
{
    private const int IoUringNotTracedEvent = 105;
    private const int IoUringNotObservableEvent = 106;
    private const int Requests = 3;

    [BpfTheory]
    [InlineData("send-recv", "RECV")]
    [InlineData("read-write", "READ")]
    [InlineData("sqpoll-send-recv", "RECV")] // submitted by the ring's kernel thread
    [InlineData("fixed-send-recv", "RECV")]  // a registered file, which the hook cannot look at
    public async Task SocketBytesThroughIoUringAreReportedOncePerProcess(string mode, string firstOperation)
    {
        using ServerProcess server = UringServer.Start(mode);
        var logger = new RecordingLogger(LogLevel.Warning);
        await using BeylaTracer tracer = Trace(server, logger);
        using (var client = new KeepAliveClient(server.Port))
        {
            for (int i = 0; i < Requests; i++)
                Assert.Equal(200, client.Get($"/uring/{i}").Status);
        }

        var waited = Stopwatch.StartNew();
        while (!logger.Entries.Any(IsIoUringWarning) && waited.Elapsed < TimeSpan.FromSeconds(10))
            await Task.Delay(50);
        await Task.Delay(500); // time for a second warning, if there were one
        LogEntry warning = Assert.Single(logger.Entries, IsIoUringWarning);
        Assert.Equal(server.Pid, warning.Properties["Pid"]);
        Assert.Equal("uring_server", warning.Properties["Command"]); // the process's name, not its thread's (uring-worker)
        Assert.Equal(firstOperation, warning.Properties["Operation"]);
    }

    [BpfFact]
    public async Task IoUringForFilesOnlyIsNotReportedAndTheSocketsAreTraced()
    {
        using ServerProcess server = UringServer.Start("file");
        var logger = new RecordingLogger(LogLevel.Warning);
        await using BeylaTracer tracer = Trace(server, logger);
        await using var collector = new SpanCollector(tracer);
        var sent = new List<ClientExchange>();
        using (var client = new KeepAliveClient(server.Port))
        {
            for (int i = 0; i < Requests; i++)
                sent.Add(client.Get($"/file/{i}"));
        }

        List<HttpSpan> spans = await collector.WaitForAsync(Requests, s => s.ProcessId == server.Pid);
        Assert.Equal(sent.Select(e => e.Path), spans.Select(s => s.Path));
        Assert.All(spans, s => Assert.Equal(200, s.StatusCode));
        Assert.All(spans, s => Assert.Equal(HttpSpanKind.Server, s.Kind));
        Assert.Equal(sent.Select(e => e.ResponseBytes), spans.Select(s => s.ResponseBytes));
        Assert.DoesNotContain(logger.Entries, IsIoUringWarning);
    }

    [BpfFact]
    public async Task WithoutTheTracepointTheProbeSetStillLoadsAndSaysIoUringGoesUnnoticed()
    {
        // A tracefs whose events are missing io_uring's, as on a kernel built without io_uring
        // (libbpf attaches the other hooks through the real one).
        DirectoryInfo traceFs = Directory.CreateTempSubdirectory("beyla-tracefs-");
        traceFs.CreateSubdirectory("events");
        KernelRequirements.TraceFsPath = traceFs.FullName;
        KernelRequirements.DebugFsTracingPath = traceFs.FullName;
        try
        {
            using ServerProcess server = UringServer.Start("send-recv");
            var logger = new RecordingLogger(LogLevel.Information);
            await using BeylaTracer tracer = Trace(server, logger);
            using (var client = new KeepAliveClient(server.Port))
                Assert.Equal(200, client.Get("/uring/0").Status);
            await Task.Delay(1000);
            Assert.Single(logger.Entries, e => e.EventId.Id == IoUringNotObservableEvent);
            Assert.DoesNotContain(logger.Entries, IsIoUringWarning);
        }
        finally
        {
            KernelRequirements.TraceFsPath = KernelRequirements.DefaultTraceFsPath;
            KernelRequirements.DebugFsTracingPath = KernelRequirements.DefaultDebugFsTracingPath;
            traceFs.Delete(recursive: true);
        }
    }

    private static BeylaTracer Trace(ServerProcess server, RecordingLogger logger) =>
        new BeylaBuilder()
            .TraceProcesses(p => p.ProcessId(server.Pid))
            .WithHttpProbes()
            .WithLogging(new RecordingLoggerFactory(logger))
            .Build();

    private static bool IsIoUringWarning(LogEntry entry) => entry.EventId.Id == IoUringNotTracedEvent;
}
