using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Beyla.Bpf.Tests;

/// <summary>
/// The set-up PackageTests once had: this test host starts a Python server and, separately, a
/// tracer process (the sample agent), then sends the requests itself, with HttpClient, with a
/// raw socket and with a curl it starts, on new connections and on connections it opened before
/// the tracer started. Every one of them is a server span in the other process. (What PackageTests
/// saw was requests sent before its app had attached: that app printed no ready line, and a
/// dotnet app takes a second or more to start and attach. Nothing is traced before attaching.)
/// </summary>
public sealed class SeparateTracerTests
{
    [BpfFact]
    public async Task RequestsFromTheTestHostAndItsChildrenReachATracerInAnotherProcess()
    {
        int port = FreePort.Next();
        using ServerProcess server = ServerProcess.StartPython(port);
        // Connections opened, and answered once, before the tracer starts: the server's threads
        // are blocked in a read on them when it attaches.
        using var early = new KeepAliveClient(port);
        Assert.Equal(200, early.Get("/hello/before").Status);
        using var earlyHttp = new HttpClient();
        using (HttpResponseMessage before = await earlyHttp.GetAsync(new Uri($"http://127.0.0.1:{port}/hello/before-httpclient")))
            Assert.Equal(200, (int)before.StatusCode);

        using var agent = new AgentProcess("--port", port.ToString(CultureInfo.InvariantCulture), "--json", "--duration", "10");
        await agent.WaitForReadyAsync();

        var sent = new List<(string Path, int Status)>();
        for (int i = 0; i < 3; i++)
        {
            sent.Add(($"/hello/early-socket/{i}", early.Get($"/hello/early-socket/{i}").Status));
            using HttpResponseMessage response = await earlyHttp.GetAsync(new Uri($"http://127.0.0.1:{port}/hello/early-httpclient/{i}"));
            sent.Add(($"/hello/early-httpclient/{i}", (int)response.StatusCode));
        }
        using (var http = new HttpClient())
        {
            for (int i = 0; i < 3; i++)
            {
                using HttpResponseMessage response = await http.GetAsync(new Uri($"http://127.0.0.1:{port}/hello/httpclient/{i}"));
                sent.Add(($"/hello/httpclient/{i}", (int)response.StatusCode));
            }
        }
        using (var client = new KeepAliveClient(port))
        {
            for (int i = 0; i < 3; i++)
                sent.Add(($"/hello/socket/{i}", client.Get($"/hello/socket/{i}").Status));
        }
        for (int i = 0; i < 3; i++)
        {
            string path = $"/hello/curl/{i}";
            var info = new ProcessStartInfo("curl") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (string a in new[] { "-s", "-o", "/dev/null", "-w", "%{http_code}", $"http://127.0.0.1:{port}{path}" })
                info.ArgumentList.Add(a);
            using Process curl = Process.Start(info)!;
            string code = await curl.StandardOutput.ReadToEndAsync();
            await curl.WaitForExitAsync();
            sent.Add((path, int.Parse(code, CultureInfo.InvariantCulture)));
        }
        Assert.All(sent, s => Assert.Equal(200, s.Status));
        Assert.False(agent.HasExited, "the agent stopped before every request was sent");

        (int exitCode, List<string> stdout, List<string> stderr) = await agent.WaitForExitAsync();
        Assert.Equal(0, exitCode);
        var seen = stdout.Select(l => JsonDocument.Parse(l).RootElement)
            .Select(s => (Path: s.GetProperty("path").GetString()!, Status: s.GetProperty("status").GetInt32(), Pid: s.GetProperty("pid").GetInt32(), Kind: s.GetProperty("kind").GetString()))
            .ToList();
        Assert.All(seen, s => Assert.Equal((server.Pid, "server"), (s.Pid, s.Kind)));
        Assert.Equal(sent.OrderBy(s => s.Path, StringComparer.Ordinal), seen.Select(s => (s.Path, s.Status)).OrderBy(s => s.Path, StringComparer.Ordinal));
        Assert.Equal($"summary: spans={sent.Count} lost=0", stderr.Last());
    }
}
