using System.Diagnostics;
using Beyla;
using Beyla.Agent;
using Beyla.Exporters;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

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
    // every log line on stderr: stdout is the spans' (--json), or nothing (--quiet)
    .AddConsole(c => c.LogToStandardErrorThreshold = LogLevel.Trace)
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

if (options.Routes.Count > 0)
    builder.Configure(o => options.Routes.ForEach(o.RoutePatterns.Add));

// OTLP: the SDK's providers listen to the sink's ActivitySource and Meter (both "Beyla"); they
// exist before the tracer starts so that no span is missed, and are flushed after it has stopped.
TracerProvider? tracerProvider = null;
MeterProvider? meterProvider = null;
if (options.Otlp is { } otlp)
{
    string baseUrl = otlp.AbsoluteUri.TrimEnd('/');
    tracerProvider = Sdk.CreateTracerProviderBuilder()
        .AddSource(OpenTelemetrySpanSink.SourceName)
        .AddOtlpExporter(o =>
        {
            o.Protocol = OtlpExportProtocol.HttpProtobuf;
            o.Endpoint = new Uri(baseUrl + "/v1/traces"); // set in code, the endpoint is used as is
            o.BatchExportProcessorOptions.ScheduledDelayMilliseconds = 1000;
        })
        .Build();
    meterProvider = Sdk.CreateMeterProviderBuilder()
        .AddMeter(OpenTelemetrySpanSink.SourceName)
        .AddOtlpExporter((o, reader) =>
        {
            o.Protocol = OtlpExportProtocol.HttpProtobuf;
            o.Endpoint = new Uri(baseUrl + "/v1/metrics");
            reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = 1000;
        })
        .Build();
    builder.AddOpenTelemetry();
    Console.Error.WriteLine($"otlp: exporting traces to {baseUrl}/v1/traces and metrics to {baseUrl}/v1/metrics (http/protobuf)");
}
if (options.Prometheus is { } prometheus)
{
    builder.AddPrometheus(o =>
    {
        o.Host = prometheus.Host;
        o.Port = prometheus.Port;
    }, loggerFactory.CreateLogger("Beyla.Prometheus"));
}

BeylaTracer tracer;
var attach = Stopwatch.StartNew();
try
{
    tracer = builder.Build();
}
catch (Exception ex) when (ex is BeylaException or ArgumentException)
{
    // BeylaException: no privileges, kernel features, or the Prometheus port in use; ArgumentException: a bad --route.
    Console.Error.WriteLine(ex is BeylaException ? $"beyla-agent: cannot trace: {ex.Message.Split('\n')[0]}" : $"beyla-agent: {ex.Message}");
    if (options.Verbose)
        Console.Error.WriteLine(ex.Message);
    if (demo is not null)
        await demo.DisposeAsync();
    tracerProvider?.Dispose();
    meterProvider?.Dispose();
    return ex is BeylaException ? 2 : 64;
}
if (options.Prometheus is { } served)
    Console.Error.WriteLine($"prometheus: serving http://{served.Host}:{served.Port}/metrics");

long spans = 0;
long demoRequests = 0;
await using (tracer)
{
    // Subscribed before the ready line: whoever waits for that line to start sending requests
    // gets every one of them counted. --quiet subscribes to nothing, as a deployment that only
    // exports: its count is the tracer's own, once every span has been handed out.
    IAsyncEnumerable<HttpSpan>? traced = options.Quiet ? null : tracer.Spans();
    Console.Error.WriteLine($"ready: probes attached in {attach.Elapsed.TotalMilliseconds:F0} ms ({string.Join(", ", tracer.SourceNames)}); " +
        (options.Demo ? "tracing this process" : options.HasSelection ? "tracing the selected processes" : "tracing every process"));
    using var json = options.Json && !options.Quiet ? new JsonSpanWriter(Console.OpenStandardOutput()) : null;
    // On a terminal (or with --live), a RED table per route refreshed in place; piped, one line per span.
    using var live = options.Live || (!options.Json && !options.Quiet && !Console.IsOutputRedirected) ? new LiveView(() => tracer.Statistics, Console.Out) : null;
    Task<long>? load = demo is null ? null : DemoLoad.RunAsync(demo.Port, stop);
    // Stopping disposes the tracer, which hands over what the kernel had finished and then ends
    // the enumeration: every span traced before the stop is counted, none is cut off.
    var stopping = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    using (stop.Token.Register(() => stopping.TrySetResult()))
    {
        Task disposed = DisposeWhenStoppedAsync(tracer, stopping.Task);
        if (traced is null)
        {
            await Task.WhenAny(tracer.Completion); // disposed when stopped, or its sources ended
            spans = tracer.Statistics.SpansDecoded;
        }
        else
        {
            await foreach (HttpSpan span in traced)
            {
                spans++;
                if (live is not null)
                    live.Add(span);
                else if (json is not null)
                    json.Write(span);
                else
                    Console.WriteLine(span.ToString());
            }
        }
        stop.Cancel(); // the tracer ended by itself (its sources failed): stop the rest too
        await disposed;
    }
    if (load is not null)
        demoRequests = await load;
    live?.Draw();
}
if (demo is not null)
    await demo.DisposeAsync();

// The tracer has handed its last spans to the sinks: send what the SDK still holds.
if (tracerProvider is not null && !tracerProvider.ForceFlush(10_000))
    Console.Error.WriteLine("otlp: the last traces could not be exported");
if (meterProvider is not null && !meterProvider.ForceFlush(10_000))
    Console.Error.WriteLine("otlp: the last metrics could not be exported");
tracerProvider?.Dispose();
meterProvider?.Dispose();

TracerStatistics stats = tracer.Statistics;
if (options.Demo)
    Console.Error.WriteLine($"demo: the client sent {demoRequests} requests; each " +
        (options.Quiet || options.Live || (!options.Json && !Console.IsOutputRedirected) ? "was traced twice, as a client span and as a server span" : "appears twice above, as a client span and as a server span"));
Console.Error.WriteLine($"summary: spans={spans} lost={stats.TotalLost + stats.SpansDroppedForSlowConsumers}");
return 0;

static async Task DisposeWhenStoppedAsync(BeylaTracer tracer, Task stopped)
{
    await stopped;
    await tracer.DisposeAsync();
}
