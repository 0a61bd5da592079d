using System.Globalization;
using System.Text.Json;

namespace Beyla.Bpf.Tests;

/// <summary>The sample agent's contract: ready line, JSON lines, summary, exit codes.</summary>
public sealed class SampleAgentTests
{
    [BpfFact]
    public async Task JsonModeReportsEveryRequestThenASummary()
    {
        int port = FreePort.Next();
        using ServerProcess server = ServerProcess.StartPython(port);
        using var agent = new AgentProcess("--port", port.ToString(CultureInfo.InvariantCulture), "--json", "--duration", "6");
        await agent.WaitForReadyAsync();

        const int requests = 7;
        using (var client = new KeepAliveClient(port))
        {
            for (int i = 0; i < requests; i++)
                Assert.Equal(i % 2 == 0 ? 200 : 404, client.Get(i % 2 == 0 ? $"/hello/{i}?token=x" : $"/nothing/{i}").Status);
        }
        (int exitCode, List<string> stdout, List<string> stderr) = await agent.WaitForExitAsync();

        Assert.Equal(0, exitCode);
        var spans = stdout.Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(requests, spans.Count);
        for (int i = 0; i < requests; i++)
        {
            JsonElement s = spans[i];
            Assert.Equal("server", s.GetProperty("kind").GetString());
            Assert.Equal(server.Pid, s.GetProperty("pid").GetInt32());
            Assert.Equal("GET", s.GetProperty("method").GetString());
            Assert.Equal(i % 2 == 0 ? $"/hello/{i}" : $"/nothing/{i}", s.GetProperty("path").GetString());
            Assert.Equal(i % 2 == 0 ? 200 : 404, s.GetProperty("status").GetInt32());
            Assert.True(s.GetProperty("durationNs").GetInt64() > 0);
            Assert.Equal("127.0.0.1", s.GetProperty("localAddress").GetString());
            Assert.Equal(port, s.GetProperty("localPort").GetInt32());
            Assert.Equal("127.0.0.1", s.GetProperty("peerAddress").GetString());
            Assert.True(s.GetProperty("peerPort").GetInt32() > 0);
            Assert.True(s.GetProperty("requestBytes").GetInt64() > 0);
            Assert.True(s.GetProperty("responseBytes").GetInt64() > 0);
            Assert.Equal("HTTP/1.1", s.GetProperty("protocol").GetString());
            Assert.False(s.TryGetProperty("query", out _));
        }
        Assert.Contains(stderr, l => l.Contains("ready", StringComparison.Ordinal));
        Assert.Equal($"summary: spans={requests} lost=0", stderr.Last());
    }

    [BpfFact]
    public async Task LiveViewShowsRedPerRouteAndItsLastFrameCountsEverySpan()
    {
        using var agent = new AgentProcess("--demo", "--live", "--route", "/{page}", "--duration", "20");
        (int exitCode, List<string> stdout, List<string> stderr) = await agent.WaitForExitAsync();
        Assert.Equal(0, exitCode);
        string summary = stderr.Last();
        Assert.StartsWith("summary: spans=", summary, StringComparison.Ordinal);
        long spans = long.Parse(summary["summary: spans=".Length..summary.IndexOf(' ', "summary: spans=".Length)], CultureInfo.InvariantCulture);
        // Frames redraw in place with ANSI cursor moves; the last frame is the last header line and what follows.
        string[] lines = stdout.Select(l => System.Text.RegularExpressions.Regex.Replace(l, "\u001b\\[[0-9]*[FJK]", "")).ToArray();
        int lastTitle = Array.FindLastIndex(lines, l => l.StartsWith("beyla-agent", StringComparison.Ordinal));
        Assert.True(lastTitle >= 0, string.Join('\n', lines));
        Assert.Contains($"spans {spans} ", lines[lastTitle], StringComparison.Ordinal);
        Assert.Contains("req/s", lines[lastTitle + 1], StringComparison.Ordinal);
        string[] rows = lines[(lastTitle + 2)..].Where(l => l.Length > 0).ToArray();
        Assert.Contains(rows, r => r.StartsWith("server", StringComparison.Ordinal) && r.Contains("/{page}", StringComparison.Ordinal));
        Assert.Contains(rows, r => r.StartsWith("client", StringComparison.Ordinal) && r.Contains("/{page}", StringComparison.Ordinal));
        // The demo answers some requests with 5xx: the error column is not zero.
        Assert.Contains(rows, r => !r.Contains(" 0.0 %", StringComparison.Ordinal));
    }

    [BpfFact]
    public async Task WithoutPrivilegesItExitsNonZeroWithOneLineSayingWhy()
    {
        // nobody (65534), no capabilities
        using var agent = new AgentProcess(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"], "--port", "8080", "--duration", "5");
        (int exitCode, List<string> stdout, List<string> stderr) = await agent.WaitForExitAsync();
        Assert.Equal(2, exitCode);
        Assert.Empty(stdout);
        string line = Assert.Single(stderr);
        Assert.Contains("cannot trace", line, StringComparison.Ordinal);
        Assert.Contains("CAP_BPF", line, StringComparison.Ordinal);
    }

    [BpfFact]
    public async Task AsRootWithoutCapBpfAndCapPerfmonItNamesWhatIsMissing()
    {
        // uid 0, but CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN dropped from the bounding set
        using var agent = new AgentProcess(["setpriv", "--bounding-set=-bpf,-perfmon,-sys_admin", "--inh-caps=-all"], "--port", "8080", "--duration", "5");
        (int exitCode, List<string> stdout, List<string> stderr) = await agent.WaitForExitAsync();
        Assert.Equal(2, exitCode);
        Assert.Empty(stdout);
        string line = Assert.Single(stderr);
        Assert.Contains("euid 0", line, StringComparison.Ordinal);
        Assert.Contains("lacks CAP_BPF and CAP_PERFMON", line, StringComparison.Ordinal);
    }
}
