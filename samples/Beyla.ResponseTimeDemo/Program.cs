// Response time versus execution time: a Kestrel service whose handler is short but whose
// concurrency is limited. The service times its handler with its own Activity, as in-process
// instrumentation does, and traces itself with Beyla (services.AddBeyla, TraceProcesses(Current)).
// A built-in load generator measures what callers wait. The three views side by side show the
// queueing that only the kernel's view contains.
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Beyla;
using Beyla.Hosting;
using Beyla.ResponseTimeDemo;

DemoOptions options = DemoOptions.Parse(args);
const string HandlerSource = "Beyla.ResponseTimeDemo.Handlers";
using var handlerSource = new ActivitySource(HandlerSource);
using var correlator = new HandlerTimingCorrelator(HandlerSource);
var timings = new List<RequestTiming>();
correlator.Correlated += t =>
{
    lock (timings)
        timings.Add(t);
};

WebApplicationBuilder builder = WebApplication.CreateBuilder();
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, options.Port));
builder.Services.AddBeyla(beyla => beyla
        .TraceProcesses(p => p.Current())
        .WithHttpProbes()
        .AddSink(correlator),
    o => o.FailHostOnStartError = true);

WebApplication app = builder.Build();
var gate = new SemaphoreSlim(options.Concurrency);
// Limited concurrency: requests wait here, before the handler (and its Activity) starts.
app.Use(async (context, next) =>
{
    await gate.WaitAsync(context.RequestAborted);
    try
    {
        await next(context);
    }
    finally
    {
        gate.Release();
    }
});
app.MapGet("/work", async context =>
{
    using (Activity? activity = handlerSource.StartActivity("handler"))
    {
        activity?.SetTag(HandlerTimingCorrelator.ClientPortTag, context.Connection.RemotePort);
        await Task.Delay(options.WorkMilliseconds);
    }
    await context.Response.WriteAsync("done");
});

try
{
    await app.StartAsync();
}
catch (BeylaException ex)
{
    Console.Error.WriteLine($"beyla-response-time-demo: cannot trace: {ex.Message.Split('\n')[0]}");
    return 2;
}
int port = new Uri(app.Urls.First()).Port;
BeylaTracer tracer = await app.Services.GetRequiredService<BeylaHostedService>().Started ?? throw new InvalidOperationException("tracer did not start");
Console.Error.WriteLine($"ready: service on 127.0.0.1:{port}, handler {options.WorkMilliseconds} ms, concurrency {options.Concurrency}; " +
    $"{options.Clients} clients x {options.RequestsPerClient} requests");

ClientRun[] runs = await Task.WhenAll(Enumerable.Range(0, options.Clients).Select(_ => ClientRun.RunAsync(port, options.RequestsPerClient)));
int sent = runs.Sum(r => r.Requests.Count);
var deadline = Stopwatch.StartNew();
while (correlator.Matched < sent && deadline.Elapsed < TimeSpan.FromSeconds(10))
    await Task.Delay(50);
TracerStatistics stats = tracer.Statistics;
await app.StopAsync();

RequestTiming[] joined;
lock (timings)
    joined = [.. timings];
var report = Report.Build(runs, joined, sent, correlator.UnmatchedSpans, stats.TotalLost);
if (options.Json)
    Console.WriteLine(JsonSerializer.Serialize(report));
else
    report.Print(Console.Out);
return 0;
