// Kestrel test server for the kernel tests: same routes as tests/servers/python_server.py
// (/ws with ASP.NET Core's WebSockets: it echoes each message).
// Usage: dotnet Beyla.TestServer.dll --urls http://127.0.0.1:PORT
// With BEYLA_TESTSERVER_OTEL=1 the OpenTelemetry .NET SDK instruments it in-process instead
// (ASP.NET Core traces and metrics into exporters that count and stay local), for
// benchmarks/overhead.py to compare with tracing from the kernel.
using System.Diagnostics;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

var builder = WebApplication.CreateSlimBuilder(args);
builder.WebHost.UseKestrelHttpsConfiguration(); // https:// URLs, certificate from ASPNETCORE_Kestrel__Certificates__Default__Path
builder.Logging.ClearProviders();
var spanCounter = new CountingExporter<Activity>();
var metricCounter = new CountingExporter<Metric>();
bool otel = Environment.GetEnvironmentVariable("BEYLA_TESTSERVER_OTEL") == "1";
if (otel)
{
    builder.Services.AddOpenTelemetry()
        .WithTracing(t => t
            .AddAspNetCoreInstrumentation()
            .AddProcessor(new BatchActivityExportProcessor(spanCounter)))
        .WithMetrics(m => m
            .AddAspNetCoreInstrumentation()
            .AddReader(new PeriodicExportingMetricReader(metricCounter, exportIntervalMilliseconds: 1000)));
}
var app = builder.Build();
app.UseWebSockets();
app.Map("/ws", async (HttpContext context) =>
{
    if (!context.WebSockets.IsWebSocketRequest)
    {
        context.Response.StatusCode = 400;
        return;
    }
    using System.Net.WebSockets.WebSocket socket = await context.WebSockets.AcceptWebSocketAsync();
    var buffer = new byte[4096];
    while (true)
    {
        System.Net.WebSockets.WebSocketReceiveResult received = await socket.ReceiveAsync(buffer, context.RequestAborted);
        if (received.MessageType == System.Net.WebSockets.WebSocketMessageType.Close)
        {
            await socket.CloseOutputAsync(System.Net.WebSockets.WebSocketCloseStatus.NormalClosure, null, context.RequestAborted);
            return;
        }
        await socket.SendAsync(buffer.AsMemory(0, received.Count), received.MessageType, received.EndOfMessage, context.RequestAborted);
    }
});
app.MapGet("/hello/{**rest}", () => Results.Text("hello from kestrel\n"));
app.MapGet("/status/{code:int}", (int code) => Results.Text("status\n", statusCode: code));
app.MapGet("/big/{n:int}", (int n) => Results.Text(new string('x', n)));
app.MapGet("/slow/{ms:int}", async (int ms) =>
{
    await Task.Delay(ms);
    return Results.Text("slow\n");
});
app.MapGet("/drop/{**rest}", (HttpContext context) => context.Abort());
// no length known up front: chunked, in two chunks (each flushed) and the last one
app.MapGet("/chunked/{n:int}", async (int n, HttpResponse response) =>
{
    await response.WriteAsync(new string('c', n / 2));
    await response.Body.FlushAsync();
    await response.WriteAsync(new string('c', n - n / 2));
});
app.MapPost("/echo", async (HttpRequest request) =>
{
    using var buffer = new MemoryStream();
    await request.Body.CopyToAsync(buffer);
    return Results.Text($"{buffer.Length}\n");
});
app.MapPost("/slow/{ms:int}", async (int ms, HttpRequest request) =>
{
    using var buffer = new MemoryStream();
    await request.Body.CopyToAsync(buffer);
    await Task.Delay(ms);
    return Results.Text($"{buffer.Length}\n");
});
app.MapFallback(() => Results.Text("not found\n", statusCode: 404));
app.Lifetime.ApplicationStarted.Register(() => Console.WriteLine("listening"));
app.Run();
if (otel)
{
    // The host has disposed the providers: the batch processor has flushed its queue.
    Console.WriteLine($"otel: spans exported={spanCounter.Count} metric points exported={metricCounter.Count}");
}

/// <summary>
/// An exporter that stays local: it walks each batch (spans, or each metric's points) and
/// counts what it saw. The SDK's work before it (activities, tags, the batch queue, metric
/// aggregation) is the real cost of in-process instrumentation.
/// </summary>
internal sealed class CountingExporter<T> : BaseExporter<T>
    where T : class
{
    private long _count;

    public long Count => Interlocked.Read(ref _count);

    public override ExportResult Export(in Batch<T> batch)
    {
        long n = 0;
        foreach (T item in batch)
        {
            if (item is Metric metric)
            {
                foreach (ref readonly MetricPoint point in metric.GetMetricPoints())
                    n++;
            }
            else
            {
                n++;
            }
        }
        Interlocked.Add(ref _count, n);
        return ExportResult.Success;
    }
}
