using System.Diagnostics;
using System.Globalization;
using Beyla.Tests.Support;
using Microsoft.Extensions.Logging;

namespace Beyla.Bpf.Tests;

/// <summary>
/// HTTP/2 is not traced yet; a traced process that speaks it is not passed over silently: the
/// tracer warns once per process, naming it, its side and its transport, as soon as a connection
/// begins with HTTP/2's preface (in cleartext, or in the plaintext of TLS), and reports no span
/// for it (tests/servers/node_http2.js, Node's http2 module; an upgrade to h2c gets its 101's span).
/// </summary>
public sealed class Http2Tests : IDisposable
{
    private const int Http2NotTracedEvent = 108;
    private const int Requests = 3;
    private readonly TestCertificate _certificate = new();

    [BpfTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Http2ServerIsReportedOnceAndMakesNoSpan(bool tls)
    {
        int port = FreePort.Next();
        using ServerProcess server = StartServer(port, tls);
        var logger = new RecordingLogger(LogLevel.Warning);
        await using BeylaTracer tracer = Trace(server.Pid, logger);
        await using var collector = new SpanCollector(tracer);
        for (int session = 0; session < 2; session++)
        {
            using GatedClient client = await StartClient(port, tls);
            Assert.Equal(Enumerable.Repeat("200", Requests), await client.RunAsync());
        }

        LogEntry warning = await SingleWarningAsync(logger);
        Assert.Equal(server.Pid, warning.Properties["Pid"]);
        Assert.Equal("node", warning.Properties["Command"]);
        Assert.Equal("server", warning.Properties["Role"]);
        Assert.Equal(tls ? " over TLS" : " in cleartext", warning.Properties["Transport"]);
        Assert.Empty(await collector.WaitForAsync(0, s => s.ProcessId == server.Pid)); // spans would have come with the warning; 0: no wait for one
    }

    [BpfTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Http2ClientIsReportedOnce(bool tls)
    {
        int port = FreePort.Next();
        using ServerProcess server = StartServer(port, tls);
        using GatedClient client = await StartClient(port, tls);
        var logger = new RecordingLogger(LogLevel.Warning);
        await using BeylaTracer tracer = Trace(client.Pid, logger);
        Assert.Equal(Enumerable.Repeat("200", Requests), await client.RunAsync());

        LogEntry warning = await SingleWarningAsync(logger);
        Assert.Equal(client.Pid, warning.Properties["Pid"]);
        Assert.Equal("client", warning.Properties["Role"]);
        Assert.Equal(tls ? " over TLS" : " in cleartext", warning.Properties["Transport"]);
    }

    /// <summary>
    /// A request asking to switch to HTTP/2 in cleartext (curl --http2 for an http:// URL sends
    /// Upgrade: h2c) is one span, which the 101 ends; the HTTP/2 that follows is warned about, once.
    /// </summary>
    [BpfFact]
    public async Task UpgradeToH2cIsOneSpanAndReportedOnce()
    {
        int port = FreePort.Next();
        using ServerProcess server = ServerProcess.Start("python3", [Path.Combine(TestEnvironment.ServersDirectory, "h2c_upgrade_server.py"), port.ToString(CultureInfo.InvariantCulture)], port);
        var logger = new RecordingLogger(LogLevel.Warning);
        await using BeylaTracer tracer = Trace(server.Pid, logger);
        await using var collector = new SpanCollector(tracer);
        for (int i = 0; i < 2; i++)
        {
            var info = new ProcessStartInfo("curl") { RedirectStandardOutput = true, UseShellExecute = false };
            foreach (string a in new[] { "-s", "--http2", "-o", "/dev/null", "-w", "%{http_code} %{http_version}", $"http://127.0.0.1:{port}/up/{i}" })
                info.ArgumentList.Add(a);
            using Process curl = Process.Start(info)!;
            Assert.Equal("200 2", await curl.StandardOutput.ReadToEndAsync()); // answered over HTTP/2
            await curl.WaitForExitAsync();
        }

        LogEntry warning = await SingleWarningAsync(logger);
        Assert.Equal(server.Pid, warning.Properties["Pid"]);
        Assert.Equal("server", warning.Properties["Role"]);
        Assert.Equal(" in cleartext", warning.Properties["Transport"]);
        List<HttpSpan> spans = await collector.WaitForAsync(2, s => s.ProcessId == server.Pid);
        Assert.Equal(2, spans.Count);
        for (int i = 0; i < 2; i++)
        {
            Assert.Equal($"/up/{i}", spans[i].Path);
            Assert.Equal(101, spans[i].StatusCode);
            Assert.Equal(SpanEndReason.ResponseComplete, spans[i].EndReason);
        }
    }

    /// <summary>A tracer with the HTTP probes selecting process <paramref name="pid"/>, logging into <paramref name="logger"/>.</summary>
    private static BeylaTracer Trace(int pid, RecordingLogger logger) =>
        new BeylaBuilder().TraceProcesses(p => p.ProcessId(pid)).WithHttpProbes().WithLogging(new RecordingLoggerFactory(logger)).Build();

    private ServerProcess StartServer(int port, bool tls)
    {
        string script = Path.Combine(TestEnvironment.ServersDirectory, "node_http2.js");
        string portText = port.ToString(CultureInfo.InvariantCulture);
        return ServerProcess.Start("node", tls ? [script, "server", portText, _certificate.CertificatePath, _certificate.KeyPath] : [script, "server", portText], port);
    }

    private static Task<GatedClient> StartClient(int port, bool tls) =>
        GatedClient.StartAsync("node", "node_http2.js", "client", $"{(tls ? "https" : "http")}://127.0.0.1:{port}", Requests.ToString(CultureInfo.InvariantCulture));

    /// <summary>Waits for the HTTP/2 warning, and a moment for a second one; asserts that there is exactly one.</summary>
    private static async Task<LogEntry> SingleWarningAsync(RecordingLogger logger)
    {
        var waited = Stopwatch.StartNew();
        while (!logger.Entries.Any(IsHttp2Warning) && waited.Elapsed < TimeSpan.FromSeconds(10))
            await Task.Delay(50);
        await Task.Delay(500);
        return Assert.Single(logger.Entries, IsHttp2Warning);
    }

    private static bool IsHttp2Warning(LogEntry entry) => entry.EventId.Id == Http2NotTracedEvent;

    public void Dispose() => _certificate.Dispose();
}
