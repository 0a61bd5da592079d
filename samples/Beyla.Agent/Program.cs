using System.Diagnostics;
using Beyla;
using Beyla.Agent;
using Microsoft.Extensions.Logging;

AgentOptions options;
try
{
    options = AgentOptions.Parse(args);
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine(ex.Message);
    if (!ex.Message.StartsWith("usage:", StringComparison.Ordinal))
        Console.Error.WriteLine(AgentOptions.Usage);
    return ex.Message.StartsWith("usage:", StringComparison.Ordinal) ? 0 : 64;
}

using var loggerFactory = LoggerFactory.Create(b => b
    .AddSimpleConsole(c => c.SingleLine = true)
    .AddFilter(level => level >= (options.Verbose ? LogLevel.Debug : LogLevel.Warning)));
using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};
using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c =>
{
    c.Cancel = true;
    stop.Cancel();
});
if (options.Duration is { } duration)
    stop.CancelAfter(duration);

DemoServer? demo = null;
var builder = new BeylaBuilder().WithHttpProbes().WithLogging(loggerFactory);
if (options.Demo)
{
    demo = new DemoServer();
    builder.TraceProcesses(p => p.Current());
    Console.Error.WriteLine($"demo: an HTTP server on 127.0.0.1:{demo.Port} in this process, and a client sending it requests");
}
else if (options.HasSelection)
{
    builder.TraceProcesses(p =>
    {
        options.Pids.ForEach(pid => p.ProcessId(pid));
        options.Ports.ForEach(port => p.ListeningOn(port));
        options.Executables.ForEach(exe => p.ExecutableName(exe));
    });
}

BeylaTracer tracer;
var attach = Stopwatch.StartNew();
try
{
    tracer = builder.Build();
}
catch (BeylaException ex)
{
    Console.Error.WriteLine($"beyla-agent: cannot trace: {ex.Message.Split('\n')[0]}");
    if (options.Verbose)
        Console.Error.WriteLine(ex.Message);
    if (demo is not null)
        await demo.DisposeAsync();
    return 2;
}

long spans = 0;
long demoRequests = 0;
await using (tracer)
{
    Console.Error.WriteLine($"ready: probes attached in {attach.Elapsed.TotalMilliseconds:F0} ms ({string.Join(", ", tracer.SourceNames)}); " +
        (options.Demo ? "tracing this process" : options.HasSelection ? "tracing the selected processes" : "tracing every process"));
    using var json = options.Json ? new JsonSpanWriter(Console.OpenStandardOutput()) : null;
    Task<long>? load = demo is null ? null : DemoLoad.RunAsync(demo.Port, stop);
    try
    {
        await foreach (HttpSpan span in tracer.Spans(stop.Token))
        {
            spans++;
            if (json is not null)
                json.Write(span);
            else
                Console.WriteLine(span.ToString());
        }
    }
    catch (OperationCanceledException) when (stop.IsCancellationRequested)
    {
    }
    if (load is not null)
        demoRequests = await load;
}
if (demo is not null)
    await demo.DisposeAsync();

TracerStatistics stats = tracer.Statistics;
if (options.Demo)
    Console.Error.WriteLine($"demo: the client sent {demoRequests} requests; each appears twice above, as a client span and as a server span");
Console.Error.WriteLine($"summary: spans={spans} lost={stats.TotalLost + stats.SpansDroppedForSlowConsumers}");
return 0;
