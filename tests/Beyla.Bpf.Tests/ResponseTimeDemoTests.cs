using System.Diagnostics;
using System.Text.Json;

namespace Beyla.Bpf.Tests;

/// <summary>
/// The response-time demo: a service with a short handler and limited concurrency traces
/// itself. The library's spans must match what the clients measured, the handler's own
/// activities must be much shorter, and the difference must show up as queueing time.
/// </summary>
public sealed class ResponseTimeDemoTests
{
    [BpfFact]
    public async Task SpansShowTheQueueingThatTheHandlerActivityMisses()
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in new[] { TestEnvironment.ResponseTimeDemoDll, "--clients", "8", "--requests", "25", "--work-ms", "5", "--concurrency", "1", "--json" })
            info.ArgumentList.Add(a);
        info.Environment["DOTNET_CLI_HOME"] = Path.GetTempPath();
        info.Environment["HOME"] = Path.GetTempPath();
        using Process process = Process.Start(info)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(120));
        }
        finally
        {
            if (!process.HasExited)
                process.Kill();
        }
        Assert.True(process.ExitCode == 0, await stderr);
        JsonElement report = JsonDocument.Parse(await stdout).RootElement;

        const int sent = 8 * 25;
        Assert.Equal(sent, report.GetProperty("RequestsSent").GetInt32());
        Assert.Equal(sent, report.GetProperty("SpansJoined").GetInt32());
        Assert.Equal(0, report.GetProperty("SpansUnmatched").GetInt64());
        Assert.Equal(0, report.GetProperty("Lost").GetInt64());
        // Each span lies inside the client's own measurement of the same request.
        Assert.Equal(sent, report.GetProperty("SpansInsideClientBounds").GetInt32());

        double beyla = report.GetProperty("Beyla").GetProperty("P50").GetDouble();
        double handler = report.GetProperty("Handler").GetProperty("P50").GetDouble();
        double queue = report.GetProperty("Queue").GetProperty("P50").GetDouble();
        double client = report.GetProperty("Client").GetProperty("P50").GetDouble();
        Assert.True(handler >= 5 * 0.97, $"handler p50 {handler} ms is below the 5 ms of work");
        // 8 clients, one at a time: a request waits for about 7 others.
        Assert.True(beyla > 3 * handler, $"Beyla p50 {beyla} ms is not much longer than the handler's {handler} ms");
        Assert.True(queue > 2 * handler, $"queueing p50 {queue} ms");
        Assert.True(beyla <= client, $"Beyla p50 {beyla} ms exceeds the client's {client} ms");
    }
}
