using System.Diagnostics;
using System.Globalization;

namespace Beyla.Bpf.Tests;

/// <summary>A client span whatever pair of syscalls moves the bytes (the server: Kestrel).</summary>
public sealed class SyscallPathTests
{
    [BpfTheory]
    [InlineData("write-read")]
    [InlineData("sendto-recvfrom")]
    [InlineData("writev-readv")]
    [InlineData("sendmsg-recvmsg")]
    public async Task EachSyscallPairGivesOneExactClientSpan(string mode)
    {
        int port = FreePort.Next();
        using ServerProcess server = ServerProcess.Start("dotnet", [TestEnvironment.KestrelServerDll, "--urls", $"http://127.0.0.1:{port}"], port);
        var info = new ProcessStartInfo("python3") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in new[] { Path.Combine(TestEnvironment.ServersDirectory, "syscall_client.py"), port.ToString(CultureInfo.InvariantCulture), "/status/404", mode })
            info.ArgumentList.Add(a);
        using Process client = Process.Start(info)!;
        try
        {
            Assert.Equal("ready", await client.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)));
            await using BeylaTracer tracer = new BeylaBuilder().TraceProcesses(p => p.ProcessId(client.Id)).WithHttpProbes().Build();
            await using var collector = new SpanCollector(tracer);
            await client.StandardInput.WriteLineAsync("go");
            client.StandardInput.Close();
            string line = (await client.StandardOutput.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(30))).Trim();
            await client.WaitForExitAsync();
            Assert.True(client.ExitCode == 0, await client.StandardError.ReadToEndAsync());
            long[] m = line.Split(' ').Select(x => long.Parse(x, CultureInfo.InvariantCulture)).ToArray();

            HttpSpan span = Assert.Single(await collector.WaitForAsync(1, s => s.ProcessId == client.Id));
            Assert.Equal(HttpSpanKind.Client, span.Kind);
            Assert.Equal("/status/404", span.Path);
            Assert.Equal(404, span.StatusCode);
            Assert.Equal(m[0], span.StatusCode);
            Assert.Equal(m[1], span.RequestBytes);
            Assert.Equal(m[2], span.ResponseBytes);
            Assert.Equal(port, span.PeerPort);
            Assert.True(span.StartTimestamp >= m[3] && span.StartTimestamp + span.DurationNanoseconds <= m[4]);
        }
        finally
        {
            if (!client.HasExited)
                client.Kill();
        }
    }
}
